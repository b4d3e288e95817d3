"""A member uses the tools in a real browser: enhance a prompt in the studio and pick a version,
caption an uploaded image and use it as the prompt, upscale an image and find it in the gallery."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from runware_web.media.models import Image
from runware_web.tools.models import TextResult
from runware_web.upstream.models import Task
from tests.browser import log_in
from tests.conftest import make_user
from tests.tools.conftest import make_image, png_bytes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PROMPT = "a lighthouse on a cliff"


def test_enhance_a_prompt_in_the_studio_pick_a_version_and_undo(page):
    make_user("alice")
    log_in(page, "alice")
    page.goto("/studio/")
    prompt = page.get_by_label("Prompt", exact=True)
    prompt.fill(PROMPT)
    page.get_by_label("Versions").fill("3")
    page.get_by_label("Maximum length").fill("150")
    page.get_by_role("button", name="Enhance prompt").click()

    picks = page.get_by_role("button", name="Use version")
    expect(picks).to_have_count(3)
    versions = list(TextResult.objects.order_by("index").values_list("text", flat=True))
    assert len(versions) == 3 and all(PROMPT in v or "lighthouse" in v for v in versions)
    for version in versions:
        expect(page.get_by_text(version, exact=True)).to_be_visible()

    page.get_by_role("button", name="Use version 2").click()
    expect(prompt).to_have_value(versions[1])
    page.get_by_role("button", name="Use version 3").click()
    expect(prompt).to_have_value(versions[2])
    page.get_by_role("button", name="Undo").click()
    expect(prompt).to_have_value(PROMPT)
    expect(page.get_by_role("button", name="Undo")).to_be_hidden()
    # Enhancing never submitted the studio's own form.
    assert list(Task.objects.values_list("task_type", flat=True)) == ["promptEnhance"]


def test_enhance_asks_for_a_prompt_first(page):
    make_user("alice")
    log_in(page, "alice")
    page.goto("/tools/")
    page.get_by_role("button", name="Enhance prompt").click()
    expect(page.get_by_role("alert")).to_have_text("Write a prompt first, then enhance it.")
    assert not Task.objects.exists()


def test_caption_an_uploaded_image_and_use_it_as_the_prompt(page, tmp_path):
    make_user("alice")
    log_in(page, "alice")
    page.goto("/tools/")
    picture = tmp_path / "wall.png"
    picture.write_bytes(png_bytes(160, 96))
    page.get_by_label("Image", exact=True).set_input_files(str(picture))
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_role("heading", name="Caption")).to_be_visible()
    uploaded = Image.objects.get()
    assert uploaded.kind == Image.Kind.UPLOADED and uploaded.original_name == "wall.png"

    page.get_by_role("button", name="Caption", exact=True).click()
    use = page.get_by_role("link", name="Use as prompt")
    expect(use).to_be_visible()
    caption = TextResult.objects.get().text
    assert "160x96" in caption
    expect(page.locator("#tool-results blockquote")).to_have_text(caption)

    use.click()
    page.wait_for_url("**/studio/**")
    expect(page.get_by_label("Prompt", exact=True)).to_have_value(caption)


def test_upscale_an_image_and_find_the_larger_image_in_the_gallery(page, simulator):
    alice = make_user("alice")
    source = make_image(alice, width=96, height=64, prompt="a blue square on a white wall")
    simulator.set_latency(0.5)  # long enough to see the run in progress
    log_in(page, "alice")
    # The gallery's image page does not include the tools yet: the same forms, on /tools/.
    page.goto(f"/tools/?image={source.pk}")
    page.get_by_label("Factor").select_option("3")
    page.get_by_role("button", name="Upscale", exact=True).click()
    expect(page.get_by_text("Upscaling…")).to_be_visible()

    open_it = page.get_by_role("link", name="Open in gallery")
    expect(open_it).to_be_visible()
    upscaled = Image.objects.get(source=source)
    assert (upscaled.width, upscaled.height, upscaled.kind) == (288, 192, Image.Kind.UPSCALED)
    expect(page.locator(f"#tool-run-{upscaled.task_id}")).to_contain_text("288×192")

    open_it.click()
    page.wait_for_url(f"**/gallery/{upscaled.pk}/")
    expect(page.get_by_text("288 × 192 px")).to_be_visible()
    page.goto("/gallery/")
    expect(page.locator(f'a[href="/gallery/{upscaled.pk}/"]').first).to_be_visible()
