"""A member makes a 3D model in a real browser, from a prompt or from an image they upload: it arrives
on its card in an interactive viewer (model-viewer, served from the portal's own static files) that
loads it without a console error, and opens in the portal's viewer dialog."""

from __future__ import annotations

import os
import re

import pytest
from playwright.sync_api import expect

from runware_web.media.models import Image
from runware_web.media.refs import image_ref
from tests.browser import log_in
from tests.conftest import make_user
from tests.gallery.factories import png_bytes

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


# Whether the viewer dialog's model-viewer has loaded its model and shows it.
LOADED_IN_DIALOG = """() => {
  const viewer = document.querySelector('dialog.viewer[open] model-viewer');
  return viewer !== null && viewer.loaded === true && viewer.modelIsVisible === true;
}"""


@pytest.mark.timeout(240)
def test_a_model_is_built_from_an_uploaded_image_and_opens_in_the_viewer(new_page, tmp_path):
    make_user("alice")
    page = new_page(viewport={"width": 1440, "height": 1000})
    log_in(page, "alice")
    page.goto("/3d/")
    page.get_by_label("Models", exact=True).fill("1")
    picture = tmp_path / "lighthouse.png"
    picture.write_bytes(png_bytes((40, 90, 160), size=(96, 96)))
    page.get_by_label("Or upload an image").set_input_files(picture)

    picker = page.get_by_label("Start from an image")
    expect(picker.locator("option:checked")).to_have_text(re.compile(r"^lighthouse\.png"))
    uploaded = Image.objects.get(kind=Image.Kind.UPLOADED)
    expect(picker).to_have_value(str(uploaded.pk))
    expect(page.get_by_label("Models", exact=True)).to_have_value("1")  # the upload loses nothing typed
    page.get_by_role("button", name="Generate 3D").click()

    card = page.get_by_role("article", name="3D: From an image")
    # The card names what it was built from: the upload, a link to it.
    expect(card.get_by_role("link", name=re.compile(r"^lighthouse\.png"))).to_be_visible()
    expect(card.locator("model-viewer")).to_have_count(1, timeout=20_000)
    page.wait_for_function(LOADED, timeout=VIEWER_LOADS_WITHIN)
    expect(card.locator(".badge")).to_have_text("Done")
    mesh = Image.objects.get(media_type=Image.MediaType.MODEL_3D)
    assert mesh.task.params["inputs"]["image"] == image_ref(uploaded)

    # Its Details link opens it in the viewer, a 3D viewer of its own.
    card.get_by_role("link", name="Details").click()
    dialog = page.get_by_role("dialog", name="Image viewer")
    expect(dialog).to_be_visible()
    expect(dialog.locator("model-viewer")).to_have_attribute("src", f"/gallery/{mesh.pk}/file")
    page.wait_for_function(LOADED_IN_DIALOG, timeout=VIEWER_LOADS_WITHIN)
