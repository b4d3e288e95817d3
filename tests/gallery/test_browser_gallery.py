"""The gallery in a real browser: images made through the runner against the simulator."""

from __future__ import annotations

import asyncio
import re
import threading

import pytest
from channels.db import database_sync_to_async
from playwright.sync_api import expect

from runware_web.media.models import Image
from runware_web.media.store import result_bytes, save_image
from runware_web.runner import Handler, parse_cost
from runware_web.upstream.models import Task
from tests.browser import log_in
from tests.conftest import make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


class SaveImages(Handler):
    """What the studio's handler does with a result, reduced to saving it (the gallery's input)."""

    async def on_result(self, task: Task, item: dict) -> str:
        data = await result_bytes(item)
        await database_sync_to_async(save_image)(
            user=task.user, data=data, task=task, prompt=task.params["positivePrompt"], model=task.model,
            seed=item.get("seed"), cost=parse_cost(item.get("cost")), runware_uuid=item.get("imageUUID", ""),
        )
        return ""


@pytest.fixture(autouse=True)
def _save_images(settings):
    """The "gallery-test" feature's tasks are handled by SaveImages."""
    settings.RUNWARE_WEB_TASK_HANDLERS = {
        **settings.RUNWARE_WEB_TASK_HANDLERS, "gallery-test": f"{__name__}.SaveImages",
    }


def generate(user, *prompts: str) -> list[Task]:
    """Run imageInference tasks for the member through the real runner and simulator, and wait."""

    async def run() -> list[Task]:
        from runware_web.runner import runner

        tasks = [
            await runner.submit(
                user=user, feature="gallery-test", task_type="imageInference",
                params={"model": "runware:101@1", "positivePrompt": prompt, "width": 512, "height": 512,
                        "steps": 4, "numberResults": 1, "outputFormat": "PNG"},
            )
            for prompt in prompts
        ]
        for task in tasks:
            await runner.wait(task.pk)
        await runner.shutdown()
        return tasks

    outcome: dict = {}
    # Playwright's sync API owns this thread's event loop: the runner gets a thread of its own.
    thread = threading.Thread(target=lambda: outcome.update(tasks=asyncio.run(run())))
    thread.start()
    thread.join(timeout=60)
    assert "tasks" in outcome, "generating the images did not finish"
    return outcome["tasks"]


def test_find_filter_open_reuse_delete_undo_and_restore_from_the_trash(page):
    alice = make_user("alice")
    lighthouse_task, _ = generate(alice, "a lighthouse at dusk, oil painting", "a red fox in the snow")
    assert Image.objects.filter(user=alice).count() == 2
    lighthouse = Image.objects.get(task=lighthouse_task)
    log_in(page, "alice")

    page.goto("/gallery/")
    lighthouse_tile = page.get_by_role("link", name="a lighthouse at dusk, oil painting")
    fox_tile = page.get_by_role("link", name="a red fox in the snow")
    expect(lighthouse_tile).to_be_visible()
    expect(fox_tile).to_be_visible()

    page.get_by_label("Prompt contains").fill("LIGHTHOUSE")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"prompt=LIGHTHOUSE"))
    expect(lighthouse_tile).to_be_visible()
    expect(fox_tile).to_have_count(0)
    expect(page.get_by_label("Prompt contains")).to_have_value("LIGHTHOUSE")

    lighthouse_tile.click()  # opens in the viewer (tests/gallery/test_browser_viewer.py)
    viewer = page.get_by_role("dialog", name="Image viewer")
    expect(viewer.get_by_role("heading", name="Prompt")).to_be_visible()
    expect(viewer.locator(".prompt-text")).to_have_text("a lighthouse at dusk, oil painting")
    expect(viewer.get_by_role("row", name="positivePrompt a lighthouse at dusk, oil painting")).to_be_visible()
    viewer.get_by_role("link", name="Reuse settings").click()
    expect(page).to_have_url(re.compile(rf"/studio/\?reuse={lighthouse.pk}$"))

    fox = Image.objects.get(user=alice, prompt="a red fox in the snow")
    page.goto(f"/gallery/{fox.pk}/")  # the image's own page
    page.get_by_role("button", name="Delete").click()
    expect(page.get_by_text("Moved to the trash.")).to_be_visible()
    page.get_by_role("button", name="Undo").click()
    expect(page.get_by_role("button", name="Delete")).to_be_visible()
    expect(page.get_by_text("Image restored.")).to_be_visible()
    assert Image.objects.visible().filter(user=alice).count() == 2

    page.get_by_role("button", name="Delete").click()
    expect(page.get_by_text("Moved to the trash.")).to_be_visible()
    page.goto("/gallery/")
    expect(fox_tile).to_have_count(0)

    page.get_by_role("link", name="Trash").click()
    page.get_by_role("button", name=re.compile("Restore.*red fox")).click()
    expect(page.get_by_text("Image restored.")).to_be_visible()
    expect(page.get_by_text("The trash is empty")).to_be_visible()
    page.get_by_role("link", name="Your images").click()
    expect(fox_tile).to_be_visible()
    expect(lighthouse_tile).to_be_visible()


def test_select_several_then_favourite_and_delete_them_with_one_undo(page):
    alice = make_user("alice")
    generate(alice, "a castle in the fog", "a whale at midnight", "a garden in spring")
    log_in(page, "alice")
    page.goto("/gallery/")

    favourite = page.get_by_role("button", name="Favourite selected")
    expect(favourite).to_be_disabled()  # nothing ticked yet
    page.get_by_label("Select “a castle in the fog”").check()
    page.get_by_label("Select “a whale at midnight”").check()
    expect(page.get_by_text("2 images selected")).to_be_visible()
    favourite.click()
    expect(page.get_by_text("2 images added to your favourites.")).to_be_visible()
    assert set(Image.objects.filter(favourite=True).values_list("prompt", flat=True)) == {
        "a castle in the fog", "a whale at midnight"
    }

    page.get_by_label("Favourites only").check()
    page.get_by_role("button", name="Filter").click()
    expect(page.locator(".gallery-tile")).to_have_count(2)

    page.get_by_label("Select “a castle in the fog”").check()
    page.get_by_label("Select “a whale at midnight”").check()
    page.get_by_role("button", name="Delete selected").click()
    expect(page.get_by_text("2 images moved to the trash.")).to_be_visible()
    expect(page.get_by_text("In the trash")).to_have_count(2)
    page.get_by_role("button", name="Undo").click()
    expect(page.get_by_text("2 images restored.")).to_be_visible()
    expect(page.get_by_text("In the trash")).to_have_count(0)
    assert Image.objects.trashed().count() == 0


def test_empty_the_trash_after_confirming_in_a_dialog(page):
    from django.utils import timezone

    from tests.gallery.factories import make_image

    alice = make_user("alice")
    make_image(alice, "an old sketch", deleted_at=timezone.now())
    log_in(page, "alice")
    page.goto("/gallery/trash/")
    expect(page.get_by_role("button", name=re.compile("Restore.*old sketch"))).to_be_visible()
    # Its thumbnail loaded first: asked for once it is gone, it would be a 404 the page never shows.
    page.wait_for_function("() => [...document.images].every(image => image.complete)")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Empty trash").click()
    expect(page.get_by_text("1 image deleted for good.")).to_be_visible()
    expect(page.get_by_text("The trash is empty")).to_be_visible()
    assert not Image.objects.filter(user=alice).exists()
