"""A member makes a 3D model in a real browser: it arrives on its card in an interactive viewer
(model-viewer, served from the portal's own static files) that loads it without a console error."""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import expect

from runware_web.media.models import Image
from tests.browser import log_in
from tests.conftest import make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# WebGL in headless Chromium runs on the CPU (SwiftShader): compiling model-viewer's shaders and
# lighting its scene takes seconds on an idle machine, up to a minute on a busy one.
VIEWER_LOADS_WITHIN = 100_000
# Whether the card's viewer has loaded its model and shows it (model-viewer's own properties).
LOADED = """() => {
  const viewer = document.querySelector('#threed-results model-viewer');
  return viewer !== null && viewer.loaded === true && viewer.modelIsVisible === true;
}"""

PROMPT = "a small stone lighthouse"


def screenshots(tmp_path) -> str:
    return os.environ.get("RUNWARE_WEB_SCREENSHOTS") or str(tmp_path)


@pytest.mark.timeout(240)
def test_a_model_is_generated_and_shown_in_the_viewer(new_page, media_latency, tmp_path):
    make_user("alice")
    page = new_page(viewport={"width": 1440, "height": 1000})
    outside = []
    page.on(
        "request",
        lambda request: (
            outside.append(request.url)
            if not request.url.startswith(("http://127.0.0.1", "data:", "blob:"))
            else None
        ),
    )
    log_in(page, "alice")
    page.goto("/3d/")
    expect(page.get_by_text("No 3D models yet")).to_be_visible()
    page.get_by_label("Prompt").fill(PROMPT)
    page.get_by_label("Models", exact=True).fill("2")
    expect(page.locator("#estimate")).to_contain_text("$0.20")  # Hunyuan3D Rapid: $0.1 a model
    page.get_by_label("Models", exact=True).fill("1")
    expect(page.locator("#estimate")).to_contain_text("$0.10")
    page.get_by_role("button", name="Generate 3D").click()

    card = page.get_by_role("article", name=f"3D: {PROMPT}")
    expect(card.get_by_text("Generating…")).to_be_visible()
    viewer = card.locator("model-viewer")
    expect(viewer).to_have_count(1, timeout=20_000)
    page.wait_for_function(LOADED, timeout=VIEWER_LOADS_WITHIN)
    expect(card.locator(".badge")).to_have_text("Done")
    stored = Image.objects.get(media_type=Image.MediaType.MODEL_3D)
    assert stored.prompt == PROMPT and stored.thumbnail and stored.user.username == "alice"
    assert viewer.get_attribute("src") == f"/gallery/{stored.pk}/file"
    page.screenshot(path=os.path.join(screenshots(tmp_path), "threed-1440.png"), full_page=True)

    with page.expect_download() as info:
        card.get_by_role("link", name="Download GLB").click()
    download = info.value
    assert download.suggested_filename.endswith(".glb")
    with stored.file.open("rb") as handle:
        assert download.path().read_bytes() == handle.read()

    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=os.path.join(screenshots(tmp_path), "threed-390.png"), full_page=True)
    assert outside == []  # nothing from a CDN
