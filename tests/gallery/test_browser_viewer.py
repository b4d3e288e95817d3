"""The viewer in a real browser (issue 16): a gallery tile or a studio result opens in a lightbox with
its settings and actions, previous and next by button and arrow key, delete in place, Escape back to
the tile; on a phone it fills the screen. And defect 13: an upload made twice is one tile, kept out
of the main view until asked for."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from runware_web.media.models import Image
from tests.browser import log_in
from tests.conftest import make_user
from tests.gallery.factories import make_image, make_task
from tests.gallery.test_browser_gallery import _save_images, generate  # noqa: F401 (a fixture)
from tests.images import png_bytes

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("_save_images"),
]

PROMPTS = ["a lighthouse at dusk, oil painting", "a red fox in the snow", "a bowl of lemons on a blue table"]
DESKTOP = {"width": 1440, "height": 1000}
PHONE = {"width": 390, "height": 844}


def three_pictures(user) -> list[Image]:
    """Newest first, as the gallery shows them."""
    now = timezone.now()
    return [
        make_image(user, prompt, created_at=now - timedelta(minutes=n), seed=1000 + n)
        for n, prompt in enumerate(PROMPTS)
    ]


def shown_prompt(viewer):
    return viewer.locator(".prompt-text")


def test_a_tile_opens_in_the_viewer_which_steps_through_the_gallery_and_returns_to_the_tile(new_page, team):
    alice = make_user("alice", team=team)
    three_pictures(alice)
    page = new_page(viewport=DESKTOP)
    log_in(page, "alice")
    page.goto("/gallery/")

    page.get_by_role("link", name=PROMPTS[0]).click()
    viewer = page.get_by_role("dialog", name="Image viewer")
    expect(viewer).to_be_visible()
    expect(shown_prompt(viewer)).to_have_text(PROMPTS[0])
    expect(page).to_have_url(re.compile(r"/gallery/$"))  # the page stays where it was
    expect(viewer.get_by_text("1 of 3")).to_be_visible()
    expect(viewer.get_by_text("1000", exact=True)).to_be_visible()  # its settings: the seed
    expect(viewer.get_by_role("button", name="Previous image")).to_be_disabled()
    page.screenshot(path="/tmp/viewer-desktop.png")

    viewer.get_by_role("button", name="Next image").click()
    expect(shown_prompt(viewer)).to_have_text(PROMPTS[1])
    expect(viewer.get_by_text("2 of 3")).to_be_visible()
    page.keyboard.press("ArrowRight")
    expect(shown_prompt(viewer)).to_have_text(PROMPTS[2])
    expect(viewer.get_by_role("button", name="Next image")).to_be_disabled()
    page.keyboard.press("ArrowLeft")
    expect(shown_prompt(viewer)).to_have_text(PROMPTS[1])

    # its actions work in place
    share = viewer.get_by_role("button", name="Share with team")
    share.click()
    expect(viewer.get_by_role("button", name="Share with team")).to_have_attribute("aria-pressed", "true")
    assert Image.objects.get(prompt=PROMPTS[1]).shared_with_team
    with page.expect_download() as download:
        viewer.get_by_role("link", name="Download").click()
    assert download.value.suggested_filename.startswith("a-red-fox-in-the-snow-")
    expect(viewer.get_by_role("link", name="Use as seed image")).to_have_attribute(
        "href", re.compile(r"/studio/\?seedImage=")
    )

    # Tab stays inside the viewer
    for _ in range(25):
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.closest('dialog') !== null"), "focus left the viewer"

    page.keyboard.press("Escape")
    expect(viewer).to_be_hidden()
    expect(page.get_by_role("link", name=PROMPTS[1])).to_be_focused()


def test_deleting_in_the_viewer_removes_the_tile_and_shows_the_next(new_page):
    alice = make_user("alice")
    first, second, third = three_pictures(alice)
    page = new_page(viewport=DESKTOP)
    log_in(page, "alice")
    page.goto("/gallery/")

    page.get_by_role("link", name=PROMPTS[0]).click()
    viewer = page.get_by_role("dialog", name="Image viewer")
    expect(shown_prompt(viewer)).to_have_text(PROMPTS[0])
    viewer.get_by_role("button", name="Delete").click()

    expect(viewer.locator(".viewer-status")).to_have_text("Moved to the trash.")
    expect(shown_prompt(viewer)).to_have_text(PROMPTS[1])
    expect(viewer.get_by_text("1 of 2")).to_be_visible()
    expect(page.locator(f"#tile-{first.pk}")).to_have_count(0)
    first.refresh_from_db()
    assert first.deleted_at is not None

    page.keyboard.press("Escape")
    expect(page.get_by_role("link", name=PROMPTS[1])).to_be_focused()
    expect(page.locator("#gallery-notice")).to_contain_text("Moved to the trash.")
    page.reload()
    expect(page.locator(".gallery-tile")).to_have_count(2)


COUNT_MESSAGES = (
    'document.addEventListener("htmx:wsAfterMessage", () => { window.socketMessages = (window.socketMessages || 0) + 1; });'
)


def test_a_studio_result_opens_in_the_viewer(new_page):
    alice = make_user("alice")
    task = make_task(alice, prompt="a lighthouse at dusk, oil painting")
    now = timezone.now()
    for n in range(2):
        make_image(
            alice,
            "a lighthouse at dusk, oil painting",
            task=task,
            seed=70 + n,
            created_at=now + timedelta(seconds=n),
        )
    page = new_page(viewport=DESKTOP)
    page.context.add_init_script(COUNT_MESSAGES)
    log_in(page, "alice")
    page.goto(f"/studio/g/{task.pk}/")

    results = page.get_by_role("region", name="Results").get_by_role(
        "link", name="a lighthouse at dusk, oil painting"
    )
    expect(results).to_have_count(2)
    # The page's socket shows the generation's card again as it connects: a click while that swaps the
    # links in is lost (the press on the old link, the release on the new one). Clicked after.
    page.wait_for_function("() => window.socketMessages >= 1")
    results.nth(1).click()
    viewer = page.get_by_role("dialog", name="Image viewer")
    expect(viewer.get_by_text("2 of 2")).to_be_visible()
    expect(viewer.get_by_text("71", exact=True)).to_be_visible()
    expect(page).to_have_url(re.compile(rf"/studio/g/{task.pk}/$"))
    viewer.get_by_role("button", name="Previous image").click()
    expect(viewer.get_by_text("70", exact=True)).to_be_visible()
    page.keyboard.press("Escape")
    expect(results.nth(0)).to_be_focused()


def test_the_viewer_keeps_stepping_after_a_live_update_redraws_the_card(new_page):
    """A result arriving, or the tab's socket catching up, redraws the generation's card while the
    viewer is open: Previous and Next still step through its images."""
    alice = make_user("alice")
    task = make_task(alice, prompt="a harbour in fog")
    now = timezone.now()
    for n in range(2):
        make_image(alice, "a harbour in fog", task=task, seed=80 + n, created_at=now + timedelta(seconds=n))
    page = new_page(viewport=DESKTOP)
    log_in(page, "alice")
    page.goto(f"/studio/g/{task.pk}/")
    results = page.get_by_role("region", name="Results").get_by_role("link", name="a harbour in fog")
    expect(results).to_have_count(2)
    results.nth(1).click()
    viewer = page.get_by_role("dialog", name="Image viewer")
    expect(viewer.get_by_text("81", exact=True)).to_be_visible()

    # The card drawn anew, as a live update swaps it in: new links to the same images.
    page.evaluate("id => { const card = document.getElementById(id); card.outerHTML = card.outerHTML; }",
                  f"gen-{task.pk}")
    viewer.get_by_role("button", name="Previous image").click()
    expect(viewer.get_by_text("1 of 2")).to_be_visible()
    expect(viewer.get_by_text("80", exact=True)).to_be_visible()
    viewer.get_by_role("button", name="Next image").click()
    expect(viewer.get_by_text("81", exact=True)).to_be_visible()


def test_on_a_phone_the_viewer_fills_the_screen(new_page):
    alice = make_user("alice")
    three_pictures(alice)
    page = new_page(viewport=PHONE)
    log_in(page, "alice")
    page.goto("/gallery/")

    page.get_by_role("link", name=PROMPTS[0]).click()
    viewer = page.get_by_role("dialog", name="Image viewer")
    expect(shown_prompt(viewer)).to_have_text(PROMPTS[0])
    box = viewer.bounding_box()
    assert (box["x"], box["y"], box["width"], box["height"]) == (0, 0, PHONE["width"], PHONE["height"])
    body = viewer.locator(".viewer-body")
    assert body.evaluate("element => element.scrollWidth <= element.clientWidth"), (
        "the viewer scrolls sideways"
    )
    for name in ("Previous image", "Next image", "Close the viewer"):
        button = viewer.get_by_role("button", name=name).bounding_box()
        assert button["x"] >= 0 and button["x"] + button["width"] <= PHONE["width"], name
    page.screenshot(path="/tmp/viewer-phone.png")
    viewer.get_by_role("button", name="Next image").click()
    expect(shown_prompt(viewer)).to_have_text(PROMPTS[1])
    viewer.get_by_role("button", name="Close the viewer").click()
    expect(viewer).to_be_hidden()
    expect(page.get_by_role("link", name=PROMPTS[1])).to_be_focused()


def test_an_upload_made_twice_is_one_tile_shown_only_with_the_inputs(new_page, tmp_path):
    alice = make_user("alice")
    three_pictures(alice)
    photo = tmp_path / "holiday.png"
    photo.write_bytes(png_bytes(80, 60, (30, 140, 90)))
    page = new_page(viewport=DESKTOP)
    log_in(page, "alice")

    for _ in range(2):
        page.goto("/tools/")
        page.get_by_label("Image", exact=True).set_input_files(photo)
        page.get_by_role("button", name="Upload").click()
        expect(page).to_have_url(re.compile(r"/tools/\?image="))
    expect(
        page.get_by_role("status").filter(has_text="You uploaded this before — using the existing copy")
    ).to_be_visible()
    assert Image.objects.filter(user=alice, kind=Image.Kind.UPLOADED).count() == 1

    page.goto("/gallery/")
    expect(page.locator(".gallery-tile")).to_have_count(3)
    expect(page.locator(".gallery-tile").filter(has_text="Uploaded")).to_have_count(0)
    page.get_by_role("link", name="Show inputs").click()
    expect(page.locator(".gallery-tile")).to_have_count(1)
    expect(page.locator(".gallery-tile").filter(has_text="Uploaded")).to_have_count(1)
    expect(page.get_by_label("Show")).to_have_value("inputs")
    page.screenshot(path="/tmp/gallery-inputs-desktop.png")


def test_the_viewer_with_real_pictures_at_both_sizes(new_page):
    """Screenshots of the viewer over pictures the simulator made (docs/screenshots/viewer*.png)."""
    alice = make_user("alice")
    generate(alice, *PROMPTS)
    for name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page = new_page(viewport=viewport)
        log_in(page, "alice")
        page.goto("/gallery/")
        page.screenshot(path=f"/tmp/viewer-gallery-{name}.png")
        page.get_by_role("link", name=PROMPTS[1]).click()
        viewer = page.get_by_role("dialog", name="Image viewer")
        expect(shown_prompt(viewer)).to_have_text(PROMPTS[1])
        expect(viewer.locator(".image-view img")).to_have_js_property("complete", True)
        assert viewer.locator(".image-view img").evaluate("image => image.naturalWidth") == 512
        page.screenshot(path=f"/tmp/viewer-real-{name}.png")
