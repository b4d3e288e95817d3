"""A member makes a video in a real browser: it arrives on its card, plays inline, and seeks."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from runware_web.media.models import Image
from tests.browser import log_in
from tests.conftest import make_user

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


def test_a_video_is_generated_plays_inline_and_seeks(page, video_latency):
    make_user("alice")
    log_in(page, "alice")
    page.goto("/video/")
    expect(page.get_by_text("No videos yet")).to_be_visible()
    page.get_by_label("Prompt").fill(PROMPT)
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
    assert stored.prompt == PROMPT and stored.user.username == "alice"
