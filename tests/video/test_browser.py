"""A member makes a video in a real browser: it arrives on its card, plays inline, seeks (the file
is served in ranges), is found in the gallery by its kind and downloads as an MP4 that opens; and
image-to-video: the form shows only what the chosen model takes, a frame uploaded or picked."""

from __future__ import annotations

import av
import pytest
from playwright.sync_api import expect

from runware_web.media.models import Image
from runware_web.media.store import save_image
from tests.browser import log_in
from tests.conftest import make_user
from tests.gallery.factories import png_bytes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PROMPT = "a paper boat drifting down a rainy street"

# Resolves once the video has played past `after` seconds (the clock of a playing element advances).
PLAYS_PAST = """([video, after]) => new Promise((resolve) => {
  video.muted = true;
  const check = () => { if (video.currentTime > after) resolve(video.currentTime); };
  video.addEventListener('timeupdate', check);
  video.play();
})"""
# Resolves with where the video stands once a seek to `to` seconds has completed.
SEEKS_TO = """([video, to]) => new Promise((resolve) => {
  video.pause();
  video.addEventListener('seeked', () => resolve(video.currentTime), {once: true});
  video.currentTime = to;
})"""


def test_a_video_is_generated_plays_seeks_is_found_by_its_kind_and_downloads(page, video_latency, tmp_path):
    alice = make_user("alice")
    save_image(user=alice, data=png_bytes(), prompt="a still life of pears")
    ranges: list[str] = []
    page.on(
        "response",
        lambda response: (
            ranges.append(response.headers.get("content-range", ""))
            if "/file" in response.url and response.status == 206
            else None
        ),
    )
    log_in(page, "alice")
    page.goto("/video/")
    expect(page.get_by_text("No videos yet")).to_be_visible()
    page.get_by_label("Prompt", exact=True).fill(PROMPT)
    page.get_by_label("Duration (seconds)").fill("4")
    page.get_by_label("Width").fill("864")
    page.get_by_label("Height").fill("480")
    expect(page.locator("#estimate")).to_contain_text("$0.12")
    page.get_by_role("button", name="Generate video").click()

    card = page.get_by_role("article", name=f"Video: {PROMPT}")
    expect(card.get_by_text("Generating…")).to_be_visible()
    expect(card.get_by_text("Done")).to_be_visible(timeout=20_000)
    video = card.locator("video")
    expect(video).to_have_count(1)

    handle = video.element_handle()
    page.wait_for_function("v => v.readyState >= 1 && v.duration > 0", arg=handle)
    duration = handle.evaluate("v => v.duration")
    assert duration == pytest.approx(4, abs=0.3)
    assert page.evaluate(PLAYS_PAST, [handle, 0.5]) > 0.5
    position = page.evaluate(SEEKS_TO, [handle, 3.0])
    assert position == pytest.approx(3.0, abs=0.25)
    stored = Image.objects.get(media_type=Image.MediaType.VIDEO)
    assert ranges and all(r.startswith("bytes ") and r.endswith(f"/{stored.size_bytes}") for r in ranges)
    assert stored.prompt == PROMPT and stored.user.username == "alice"

    with page.expect_download() as download_info:
        card.get_by_role("link", name="Download").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".mp4")
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    with av.open(str(path)) as container:
        assert container.streams.video[0].codec_context.name == "h264"
        assert container.duration / av.time_base == pytest.approx(4, abs=0.3)

    page.goto("/gallery/")
    page.get_by_label("Type").select_option("video")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator(f'img[src="/gallery/{stored.pk}/thumb"]')).to_be_visible()
    expect(page.get_by_text("a still life of pears")).to_have_count(0)


def test_a_video_made_from_an_uploaded_first_frame_with_only_the_models_settings_shown(
    page, video_latency, tmp_path
):
    make_user("alice")
    log_in(page, "alice")
    page.goto("/video/")
    form = page.locator("#video-form")
    expect(form.get_by_label("Seed")).to_have_count(0)  # Seedance 2.0 Fast takes no seed
    page.get_by_label("Prompt", exact=True).fill("the door swings open")
    page.get_by_label("Model").select_option("lightricks:ltx@2.3-fast")
    expect(form.get_by_label("Seed")).to_be_visible()
    expect(form.get_by_label("Frames per second")).to_be_visible()
    expect(form.get_by_label("Negative prompt")).to_have_count(0)
    expect(page.get_by_label("Prompt", exact=True)).to_have_value("the door swings open")  # kept
    expect(page.get_by_label("Duration (seconds)")).to_have_value("6")  # fitted to LTX
    form.get_by_label("Seed").fill("11")

    picture = tmp_path / "door.png"
    picture.write_bytes(png_bytes((200, 40, 40), size=(128, 72)))
    page.get_by_label("Or upload a first frame").set_input_files(picture)
    expect(page.locator(".frame-preview img")).to_have_count(1)
    uploaded = Image.objects.get(kind=Image.Kind.UPLOADED)
    expect(page.get_by_label("First frame", exact=True)).to_have_value(str(uploaded.pk))
    expect(form.get_by_label("Seed")).to_have_value("11")  # the upload loses nothing typed

    page.get_by_label("Model").select_option("google:veo@3.1-lite")
    expect(page.get_by_label("Last frame", exact=True)).to_have_count(0)  # Veo 3.1 Lite: a first frame only
    page.get_by_label("Model").select_option("lightricks:ltx@2.3-fast")
    page.get_by_role("button", name="Generate video").click()
    card = page.get_by_role("article", name="Video: the door swings open")
    expect(card.get_by_text("Done")).to_be_visible(timeout=20_000)
    page.wait_for_function(
        "v => v.readyState >= 1 && v.duration > 0", arg=card.locator("video").element_handle()
    )
    for width, height in ((1440, 1000), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=str(tmp_path / f"video-{width}.png"), full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= width  # nothing sticks out sideways
