"""A member paints an inpainting mask over the seed image in a real browser: brush, eraser, undo and
redo, brush size, zoom, and the mask the server receives on Generate."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image as PILImage
from playwright.sync_api import expect

from runware_web.media.models import Image
from runware_web.upstream.models import Task
from tests.browser import log_in
from tests.conftest import make_user
from tests.studio.helpers import png_bytes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SEED_WIDTH, SEED_HEIGHT = 512, 384

# The painted coverage (alpha) of one pixel of the painting, in the seed image's own pixels.
ALPHA_AT = """([x, y]) => {
  const canvas = document.querySelector('[data-mask-canvas]');
  return canvas.getContext('2d').getImageData(x, y, 1, 1).data[3];
}"""

# How many pixels of column x, between rows top and bottom, are painted.
PAINTED_IN_COLUMN = """([x, top, bottom]) => {
  const canvas = document.querySelector('[data-mask-canvas]');
  const data = canvas.getContext('2d').getImageData(x, top, 1, bottom - top).data;
  let count = 0;
  for (let i = 3; i < data.length; i += 4) if (data[i] >= 128) count++;
  return count;
}"""


WIDER_THAN_THE_PAGE = """() => [...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
  .slice(0, 5).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))"""


def open_painter(page, tmp_path, *, viewport: dict | None = None):
    make_user("alice")
    if viewport:
        page.set_viewport_size(viewport)
    seed = tmp_path / "harbour.png"
    seed.write_bytes(png_bytes(SEED_WIDTH, SEED_HEIGHT, (60, 110, 170)))
    log_in(page, "alice")
    page.goto("/studio/")
    page.get_by_text("Image to image, inpainting, outpainting").click()
    page.get_by_label("Seed image").set_input_files(seed)
    expect(page.get_by_role("img", name="Seed image preview")).to_be_visible()
    page.get_by_role("button", name="Paint a mask").click()
    painter = page.get_by_role("region", name="Paint a mask")
    expect(painter).to_have_attribute("data-ready", "")
    return painter


def canvas_of(page):
    return page.get_by_label("Mask painting: drag over the picture to paint")


def to_screen(page, x: float, y: float) -> tuple[float, float]:
    """Where the seed image's pixel (x, y) is on the screen, as the canvas is shown now."""
    box = canvas_of(page).bounding_box()
    return box["x"] + x * box["width"] / SEED_WIDTH, box["y"] + y * box["height"] / SEED_HEIGHT


# Brings the painting's view wholly on screen (the mouse only reaches what is shown).
SHOW_VIEW = """() => {
  const view = document.querySelector('[data-mask-viewport]').getBoundingClientRect();
  if (view.top < 0 || view.bottom > window.innerHeight) {
    document.querySelector('[data-mask-viewport]').scrollIntoView({block: 'center'});
  }
}"""


def drag(page, *points: tuple[float, float]) -> None:
    """A stroke of the mouse through `points` (seed image pixels)."""
    page.evaluate(SHOW_VIEW)
    page.mouse.move(*to_screen(page, *points[0]))
    page.mouse.down()
    for point in points[1:]:
        page.mouse.move(*to_screen(page, *point), steps=8)
    page.mouse.up()


def alpha(page, x: int, y: int) -> int:
    return page.evaluate(ALPHA_AT, [x, y])


def test_the_canvas_is_the_seed_images_size_and_strokes_undo_redo_and_erase(page, tmp_path):
    painter = open_painter(page, tmp_path)
    canvas = canvas_of(page)
    assert page.evaluate("document.querySelector('[data-mask-canvas]').width") == SEED_WIDTH
    assert page.evaluate("document.querySelector('[data-mask-canvas]').height") == SEED_HEIGHT
    undo = painter.get_by_role("button", name="Undo")
    redo = painter.get_by_role("button", name="Redo")
    expect(undo).to_be_disabled()
    expect(painter.get_by_role("button", name="Brush")).to_have_attribute("aria-pressed", "true")

    drag(page, (60, 100), (450, 100))
    assert alpha(page, 250, 100) == 255 and alpha(page, 250, 300) == 0
    expect(undo).to_be_enabled()
    drag(page, (60, 300), (450, 300))
    assert alpha(page, 250, 300) == 255

    canvas.focus()
    page.keyboard.press("Control+z")  # the second stroke goes, the first stays
    assert alpha(page, 250, 300) == 0 and alpha(page, 250, 100) == 255
    expect(redo).to_be_enabled()
    page.keyboard.press("Control+Shift+z")
    assert alpha(page, 250, 300) == 255
    undo.click()
    undo.click()
    assert alpha(page, 250, 100) == 0 and alpha(page, 250, 300) == 0
    expect(undo).to_be_disabled()
    redo.click()
    assert alpha(page, 250, 100) == 255 and alpha(page, 250, 300) == 0
    page.keyboard.press("Control+y")
    assert alpha(page, 250, 300) == 255
    expect(redo).to_be_disabled()

    eraser = painter.get_by_role("button", name="Eraser")
    eraser.click()
    expect(eraser).to_have_attribute("aria-pressed", "true")
    expect(painter.get_by_role("button", name="Brush")).to_have_attribute("aria-pressed", "false")
    drag(page, (250, 40), (250, 360))  # across both strokes
    assert alpha(page, 250, 100) == 0 and alpha(page, 250, 300) == 0
    assert alpha(page, 100, 100) == 255 and alpha(page, 400, 300) == 255
    page.keyboard.press("Control+z")  # the eraser's stroke is undone like any other
    assert alpha(page, 250, 100) == 255

    painter.get_by_role("button", name="Clear").click()
    assert alpha(page, 100, 100) == 0 and alpha(page, 400, 300) == 0
    undo.click()  # and so is clearing
    assert alpha(page, 100, 100) == 255


def test_the_brush_size_slider_sets_the_strokes_width(page, tmp_path):
    painter = open_painter(page, tmp_path)
    size = painter.get_by_label("Brush size")
    size.fill("10")
    expect(painter.get_by_text("10 px")).to_be_visible()
    drag(page, (100, 100), (400, 100))
    size.fill("60")
    expect(painter.get_by_text("60 px")).to_be_visible()
    drag(page, (100, 260), (400, 260))

    thin = page.evaluate(PAINTED_IN_COLUMN, [250, 40, 180])
    thick = page.evaluate(PAINTED_IN_COLUMN, [250, 180, 380])
    assert 8 <= thin <= 12, thin
    assert 56 <= thick <= 64, thick


def test_zooming_changes_the_scale_shown_and_keeps_painting_where_the_pointer_is(page, tmp_path):
    painter = open_painter(page, tmp_path)
    canvas = canvas_of(page)
    level = painter.locator("[data-mask-zoom-level]")
    fitted = canvas.bounding_box()["width"]
    fitted_level = level.text_content()
    expect(painter.get_by_role("button", name="Zoom out")).to_be_disabled()  # fitted is the smallest

    painter.get_by_role("button", name="Zoom in").click()
    painter.get_by_role("button", name="Zoom in").click()
    assert canvas.bounding_box()["width"] == pytest.approx(fitted * 2.25, abs=2)
    expect(level).not_to_have_text(fitted_level)
    assert int(level.text_content().rstrip("%")) == pytest.approx(int(fitted_level.rstrip("%")) * 2.25, abs=2)

    # Zooming keeps the centre in view: a dot painted at the middle of the view is the image's middle.
    page.evaluate(SHOW_VIEW)
    view = painter.locator("[data-mask-viewport]").bounding_box()
    page.mouse.click(view["x"] + view["width"] / 2, view["y"] + view["height"] / 2)
    painter.screenshot(path="/tmp/mask-painter-zoomed.png")
    painter.get_by_role("button", name="Fit").click()
    assert canvas.bounding_box()["width"] == pytest.approx(fitted, abs=1)
    assert alpha(page, SEED_WIDTH // 2, SEED_HEIGHT // 2) == 255

    # Panning with the Move tool scrolls the zoomed view and paints nothing.
    painter.get_by_role("button", name="Zoom in").click()
    before = page.evaluate("document.querySelector('[data-mask-viewport]').scrollLeft")
    painter.get_by_role("button", name="Move").click()
    painted = page.evaluate(PAINTED_IN_COLUMN, [300, 0, SEED_HEIGHT])
    drag(page, (300, 200), (200, 200))
    after = page.evaluate("document.querySelector('[data-mask-viewport]').scrollLeft")
    assert after > before
    assert page.evaluate(PAINTED_IN_COLUMN, [300, 0, SEED_HEIGHT]) == painted == 0

    # Ctrl + wheel zooms the painting, not the page.
    zoomed = canvas.bounding_box()["width"]
    shown = level.text_content()
    view = painter.locator("[data-mask-viewport]").bounding_box()
    page.mouse.move(view["x"] + view["width"] / 2, view["y"] + view["height"] / 2)
    page.keyboard.down("Control")
    page.mouse.wheel(0, -100)
    page.keyboard.up("Control")
    expect(level).not_to_have_text(shown)
    assert canvas.bounding_box()["width"] == pytest.approx(zoomed * 1.5, abs=2)


def test_generate_sends_the_painted_mask_white_where_painted_at_the_seeds_size(page, tmp_path, simulator):
    painter = open_painter(page, tmp_path)
    painter.get_by_label("Brush size").fill("40")
    drag(page, (80, 120), (220, 120))
    page.get_by_label("Prompt", exact=True).fill("a red boat in the harbour")
    page.get_by_label("Width").fill(str(SEED_WIDTH))
    page.get_by_label("Height").fill(str(SEED_HEIGHT))
    page.get_by_label("Number of images").fill("1")
    page.get_by_role("button", name="Generate", exact=True).click()

    results = page.get_by_role("region", name="Results")
    expect(results.get_by_role("img", name="a red boat in the harbour")).to_be_visible()
    expect(page.get_by_role("img", name="Mask image preview")).to_be_visible()
    task = Task.objects.get(user__username="alice")
    mask = Image.objects.get(kind=Image.Kind.MASK)
    seed = Image.objects.get(kind=Image.Kind.UPLOADED)
    assert task.params["maskImage"] == f"portal-image:{mask.pk}"
    assert task.params["seedImage"] == f"portal-image:{seed.pk}"
    assert mask.source == seed
    with mask.file.open("rb") as stored:
        pixels = PILImage.open(io.BytesIO(stored.read())).convert("L")
    assert pixels.size == (SEED_WIDTH, SEED_HEIGHT)
    assert pixels.getpixel((150, 120)) == 255 and pixels.getpixel((80, 120)) == 255
    assert pixels.getpixel((150, 300)) == 0 and pixels.getpixel((400, 120)) == 0
    counts = pixels.histogram()
    assert [value for value, count in enumerate(counts) if count] == [0, 255]  # black and white only
    white = counts[255]
    assert 140 * 40 <= white <= 180 * 40 + 40 * 40, white  # the stroke, and nothing else


def test_a_used_painting_is_sent_again_only_when_changed_and_a_mask_file_still_works(
    page, tmp_path, simulator
):
    painter = open_painter(page, tmp_path)
    drag(page, (100, 100), (200, 100))
    painter.get_by_role("button", name="Use painted mask").click()
    expect(painter.get_by_text("Used as the mask image.")).to_be_visible()
    expect(page.get_by_role("img", name="Mask image preview")).to_be_visible()
    assert Image.objects.filter(kind=Image.Kind.MASK).count() == 1

    drag(page, (300, 300), (400, 300))  # painted again: Generate sends the newer painting
    expect(painter.get_by_text(re.compile("Not used yet"))).to_be_visible()
    page.get_by_label("Prompt", exact=True).fill("a lantern")
    page.get_by_label("Width").fill(str(SEED_WIDTH))
    page.get_by_label("Height").fill(str(SEED_HEIGHT))
    page.get_by_role("button", name="Generate", exact=True).click()
    expect(page.get_by_role("region", name="Results").get_by_role("img", name="a lantern")).to_be_visible()
    newest = Image.objects.filter(kind=Image.Kind.MASK).latest("created_at")
    assert Image.objects.filter(kind=Image.Kind.MASK).count() == 2
    assert (
        Task.objects.get(params__positivePrompt="a lantern").params["maskImage"]
        == f"portal-image:{newest.pk}"
    )

    mask_file = tmp_path / "mask.png"
    mask_file.write_bytes(png_bytes(SEED_WIDTH, SEED_HEIGHT, (255, 255, 255)))
    preview = page.get_by_role("img", name="Mask image preview")
    painted_preview = preview.get_attribute("src")
    page.get_by_label("Mask image").set_input_files(mask_file)  # a file chosen after painting wins
    expect(preview).not_to_have_attribute("src", painted_preview)
    page.get_by_label("Prompt", exact=True).fill("a lantern, uploaded mask")
    page.get_by_role("button", name="Generate", exact=True).click()
    expect(
        page.get_by_role("region", name="Results").get_by_role("img", name="a lantern, uploaded mask")
    ).to_be_visible()
    uploaded_mask = Image.objects.filter(kind=Image.Kind.UPLOADED).latest("created_at")
    task = Task.objects.get(params__positivePrompt="a lantern, uploaded mask")
    assert task.params["maskImage"] == f"portal-image:{uploaded_mask.pk}"
    assert Image.objects.filter(kind=Image.Kind.MASK).count() == 2


@pytest.mark.parametrize(
    ("name", "viewport"),
    [("desktop", {"width": 1440, "height": 1000}), ("phone", {"width": 390, "height": 844})],
)
def test_the_painter_fits_the_screen(page, tmp_path, name, viewport):
    painter = open_painter(page, tmp_path, viewport=viewport)
    drag(page, (120, 140), (260, 180), (380, 150))
    box = canvas_of(page).bounding_box()
    width = page.evaluate("document.documentElement.clientWidth")
    assert box["x"] >= 0 and box["x"] + box["width"] <= width, f"the canvas overflows the page: {box}"
    wide = page.evaluate(WIDER_THAN_THE_PAGE)
    assert page.evaluate("document.documentElement.scrollWidth") <= width, (
        f"the page scrolls sideways: {wide}"
    )
    for control in ("Brush", "Eraser", "Undo", "Redo", "Zoom in", "Fit"):
        button = painter.get_by_role("button", name=control).bounding_box()
        assert button["x"] + button["width"] <= width, f"{control} is cut off: {button}"
    painter.scroll_into_view_if_needed()
    painter.screenshot(path=f"/tmp/mask-painter-{name}.png")
    page.screenshot(path=f"/tmp/mask-studio-{name}.png")


def test_a_finger_paints_on_a_phone(new_page, tmp_path):
    page = new_page(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
    open_painter(page, tmp_path)
    page.evaluate(SHOW_VIEW)
    page.touchscreen.tap(*to_screen(page, 300, 200))
    assert alpha(page, 300, 200) == 255 and alpha(page, 100, 100) == 0
    page.get_by_role("button", name="Undo").click()
    assert alpha(page, 300, 200) == 0


def test_two_fingers_pinch_to_zoom_and_paint_nothing(new_page, tmp_path):
    page = new_page(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
    painter = open_painter(page, tmp_path)
    page.evaluate(SHOW_VIEW)
    fitted = canvas_of(page).bounding_box()["width"]
    x, y = to_screen(page, SEED_WIDTH / 2, SEED_HEIGHT / 2)
    touch = page.context.new_cdp_session(page)

    def fingers(kind: str, spread: float) -> None:
        points = (
            []
            if kind == "touchEnd"
            else [{"x": x - spread, "y": y, "id": 0}, {"x": x + spread, "y": y, "id": 1}]
        )
        touch.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

    fingers("touchStart", 30)
    for spread in (45, 60, 75, 90):
        fingers("touchMove", spread)
    fingers("touchEnd", 0)
    assert canvas_of(page).bounding_box()["width"] == pytest.approx(fitted * 3, rel=0.1)
    expect(painter.get_by_role("button", name="Zoom out")).to_be_enabled()
    assert page.evaluate(PAINTED_IN_COLUMN, [SEED_WIDTH // 2 - 20, 0, SEED_HEIGHT]) == 0, (
        "a pinch is not a stroke"
    )
    expect(painter.get_by_role("button", name="Undo")).to_be_disabled()
