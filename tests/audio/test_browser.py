"""A member makes speech in a real browser: it arrives on its card, plays inline, downloads, and
opens in the portal's viewer."""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import expect

from runware_web.media.models import Image
from tests.browser import log_in
from tests.conftest import make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TEXT = "Good morning. The harbour is calm and the ferry leaves at nine."  # 63 characters

# Resolves once the clip has played past `after` seconds (the clock of a playing element advances).
PLAYS_PAST = """([audio, after]) => new Promise((resolve, reject) => {
  audio.muted = true;
  const check = () => { if (audio.currentTime > after) resolve(audio.currentTime); };
  audio.addEventListener('timeupdate', check);
  audio.play().catch(reject);
})"""


def screenshots(tmp_path) -> str:
    return os.environ.get("RUNWARE_WEB_SCREENSHOTS") or str(tmp_path)


def test_speech_is_generated_plays_inline_and_downloads(new_page, media_latency, tmp_path):
    make_user("alice")
    page = new_page(viewport={"width": 1440, "height": 1000})
    log_in(page, "alice")
    page.goto("/audio/")
    expect(page.get_by_text("No clips yet")).to_be_visible()
    # A speech model shows its text and voices, not a music model's prompt and duration.
    expect(page.get_by_label("Describe the sound")).to_be_hidden()
    page.get_by_label("Text to speak").fill(TEXT)
    page.get_by_label("Voice", exact=True).select_option("Bella")
    page.get_by_label("Format").select_option("WAV")
    # ElevenLabs Turbo v2.5: $0.05 per 1000 characters × 63 characters = $0.00315, shown rounded up.
    expect(page.locator("#estimate")).to_contain_text("$0.0032")
    page.get_by_role("button", name="Generate audio").click()

    card = page.get_by_role("article", name=f"Audio: {TEXT}")
    expect(card.get_by_text("Generating…")).to_be_visible()
    expect(card.get_by_text("Done")).to_be_visible(timeout=20_000)
    expect(card.get_by_text("voice: Bella")).to_be_visible()
    audio = card.locator("audio")
    expect(audio).to_have_count(1)

    handle = audio.element_handle()
    page.wait_for_function("a => a.readyState >= 1 && a.duration > 0", arg=handle)
    stored = Image.objects.get(media_type=Image.MediaType.AUDIO)
    assert handle.evaluate("a => a.duration") == pytest.approx(stored.duration, abs=0.1)
    assert stored.duration > 3  # one tone burst per word
    assert page.evaluate(PLAYS_PAST, [handle, 0.5]) > 0.5
    page.screenshot(path=os.path.join(screenshots(tmp_path), "audio-1440.png"), full_page=True)

    with page.expect_download() as info:
        card.get_by_role("link", name="Download").click()
    download = info.value
    assert download.suggested_filename.endswith(".wav")
    with stored.file.open("rb") as handle_file:
        assert download.path().read_bytes() == handle_file.read()

    # Its Details link opens it in the portal's viewer, with a player of its own.
    card.get_by_role("link", name="Details").click()
    dialog = page.get_by_role("dialog", name="Image viewer")
    expect(dialog).to_be_visible()
    player = dialog.locator("audio")
    expect(player).to_have_attribute("src", f"/gallery/{stored.pk}/file")
    page.wait_for_function("a => a.readyState >= 1 && a.duration > 0", arg=player.element_handle())
    dialog.get_by_role("button", name="Close the viewer").click()
    expect(dialog).to_be_hidden()

    # A music model shows its prompt and duration instead, and its estimate follows.
    page.get_by_label("Model").select_option("minimax:music@2.6")
    expect(page.get_by_label("Text to speak")).to_be_hidden()
    page.get_by_label("Describe the sound").fill("a slow piano waltz")
    page.get_by_label("Duration (seconds)").fill("20")
    expect(page.locator("#estimate")).to_contain_text("$0.02")  # $0.001 a second × 20

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    expect(page.get_by_role("article", name=f"Audio: {TEXT}").locator("audio")).to_have_count(1)
    page.screenshot(path=os.path.join(screenshots(tmp_path), "audio-390.png"), full_page=True)
    assert stored.prompt == TEXT and stored.user.username == "alice"
