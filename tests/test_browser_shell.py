"""The portal's frame on every page, in Chromium: the header folding into a menu on a phone, tables
and grids that fit a phone, the dark theme following the system setting, and the header's count of
running tasks opening their live list. Screenshots go to $RUNWARE_WEB_SCREENSHOTS (or the test's
temporary directory) at 1440×1000 and 390×844, light and dark.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from runware_web.accounts.models import Team
from runware_web.upstream.models import Task
from tests.browser import log_in
from tests.conftest import make_user
from tests.gallery.factories import make_image

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DESKTOP = {"width": 1440, "height": 1000}
PHONE = {"width": 390, "height": 844}

# Every piece of visible text whose contrast with the background behind it is under WCAG AA (4.5:1,
# 3:1 for large text). Disabled controls and text over images or gradients are left out, as WCAG does.
LOW_CONTRAST = r"""() => {
  const parse = c => { const m = c.match(/rgba?\(([^)]+)\)/); if (!m) return null;
    const p = m[1].split(/[\s,/]+/).filter(Boolean).map(Number); return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1}; };
  const lum = ({r, g, b}) => { const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  const behind = el => { for (; el; el = el.parentElement) { const s = getComputedStyle(el);
      if (s.backgroundImage !== "none") return null; const c = parse(s.backgroundColor); if (c && c.a > 0.9) return c; }
    return parse(getComputedStyle(document.body).backgroundColor); };
  const bad = [], seen = new Set();
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const text = walker.currentNode.textContent.trim(), el = walker.currentNode.parentElement;
    if (!text || seen.has(el)) continue; seen.add(el);
    const box = el.getBoundingClientRect(); if (box.width <= 1 || box.height <= 1) continue;
    if (el.closest("[disabled], [aria-disabled=true], [hidden], option")) continue;
    const s = getComputedStyle(el); if (s.visibility === "hidden") continue;
    const fg = parse(s.color), bg = behind(el); if (!fg || !bg) continue;
    const ratio = (Math.max(lum(fg), lum(bg)) + 0.05) / (Math.min(lum(fg), lum(bg)) + 0.05);
    const size = parseFloat(s.fontSize), large = size >= 24 || (parseInt(s.fontWeight) >= 700 && size >= 18.6);
    if (ratio < (large ? 3 : 4.5)) bad.push(`${el.tagName.toLowerCase()}.${el.className} "${text.slice(0, 40)}": ${ratio.toFixed(2)}`);
  }
  return bad;
}"""

SIDEWAYS = "() => document.documentElement.scrollWidth - window.innerWidth"
# What sticks out on the right, to name it when a page scrolls sideways.
STICKING_OUT = """() => [...document.querySelectorAll("body *")].filter(el => el.getBoundingClientRect().right > innerWidth + 1
  && getComputedStyle(el).position !== "fixed").slice(0, 8).map(el => el.tagName.toLowerCase() + "." + el.className)"""


def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("RUNWARE_WEB_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def alice(db):
    """A staff member of a team, with images, tasks and a key, so every page has rows to show."""
    team = Team.objects.create(name="Pixels")
    alice = make_user("alice", team=team, is_staff=True)
    make_user("bob", team=team)
    for number in range(6):
        make_image(
            alice, f"a lighthouse at dusk, study {number}, with a long description of the light on the water"
        )
    return alice


def test_on_a_phone_the_header_folds_into_a_menu_that_works_with_the_keyboard(new_page, alice):
    page = new_page(viewport=PHONE)
    log_in(page, "alice")
    page.goto("/gallery/")
    menu = page.get_by_role("button", name="Menu")
    gallery_link = page.get_by_role("navigation", name="Main").get_by_role("link", name="Gallery")
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(gallery_link).to_be_hidden()

    menu.focus()
    page.keyboard.press("Enter")
    expect(menu).to_have_attribute("aria-expanded", "true")
    expect(gallery_link).to_be_visible()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    page.keyboard.press("Tab")  # into the menu, in order
    expect(page.get_by_role("link", name="Studio", exact=True)).to_be_focused()
    page.keyboard.press("Escape")
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(menu).to_be_focused()
    expect(gallery_link).to_be_hidden()

    page.keyboard.press("Space")
    expect(gallery_link).to_be_visible()
    gallery_link.click()
    expect(page).to_have_url(re.compile(r"/gallery/$"))


def test_on_a_wide_screen_the_menu_is_laid_out_in_the_header(new_page, alice):
    page = new_page(viewport=DESKTOP)
    log_in(page, "alice")
    page.goto("/gallery/")
    expect(page.get_by_role("button", name="Menu")).to_be_hidden()
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Gallery")).to_be_visible()


@pytest.mark.parametrize(
    "path",
    [
        "/studio/",
        "/gallery/",
        "/history/",
        "/spend/",
        "/team/",
        "/team/invitations/",
        "/team/audit/",
        "/keys/",
        "/account/usage/",
        "/chat/",
        "/tools/",
        "/activity/",
    ],
)
def test_on_a_phone_no_page_scrolls_sideways(new_page, alice, path):
    """Tables fit their card or scroll inside it; the page itself never scrolls sideways."""
    page = new_page(viewport=PHONE)
    log_in(page, "alice")
    page.goto(path)
    page.wait_for_load_state("networkidle")
    assert page.evaluate(SIDEWAYS) <= 0, f"{path} is wider than the phone: {page.evaluate(STICKING_OUT)}"


def test_on_a_phone_the_gallery_is_two_tiles_wide(new_page, alice):
    page = new_page(viewport=PHONE)
    log_in(page, "alice")
    page.goto("/gallery/")
    tiles = page.locator(".gallery-grid > .tile, .gallery-grid > li, .gallery-grid > article")
    expect(tiles.first).to_be_visible()
    lefts = sorted({round(box["x"]) for box in (tiles.nth(i).bounding_box() for i in range(4))})
    assert len(lefts) == 2, lefts
    width = tiles.first.bounding_box()["width"]
    assert 150 < width < 195


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize(
    "path",
    [
        "/studio/",
        "/gallery/",
        "/history/",
        "/spend/",
        "/keys/",
        "/chat/",
        "/tools/",
        "/account/usage/",
        "/team/",
    ],
)
def test_every_page_follows_the_system_colour_scheme_with_readable_text(new_page, alice, path, scheme):
    page = new_page(viewport=DESKTOP, color_scheme=scheme)
    log_in(page, "alice")
    page.goto(path)
    page.wait_for_load_state("networkidle")
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == ("rgb(15, 18, 32)" if scheme == "dark" else "rgb(246, 247, 251)")
    assert page.evaluate(LOW_CONTRAST) == []


def test_the_header_counts_running_tasks_and_lists_them_live(new_page, alice):
    page = new_page(viewport=DESKTOP)
    log_in(page, "alice")
    page.goto("/studio/")
    running = page.get_by_role("button", name=re.compile(r"^Running"))
    expect(running).to_have_accessible_name("Running 0")

    page.get_by_label("Prompt", exact=True).fill("a red fox in the snow [sim:delay=4]")
    page.get_by_label("Width").fill("256")
    page.get_by_label("Height").fill("256")
    page.get_by_label("Number of images").fill("1")
    page.get_by_role("button", name="Generate", exact=True).click()
    expect(running).to_have_accessible_name("Running 1")  # told by the page's socket, not a timer

    running.click()
    expect(running).to_have_attribute("aria-expanded", "true")
    panel = page.get_by_role("region", name="Running tasks")
    task = Task.objects.get(user=alice, status=Task.Status.RUNNING)
    expect(panel.get_by_role("link", name="Image generation")).to_have_attribute(
        "href", f"/studio/g/{task.pk}/"
    )
    expect(panel).to_contain_text("a red fox in the snow")
    expect(panel).to_contain_text("Running")
    expect(panel).to_contain_text(re.compile(r"for \d"))

    expect(running).to_have_accessible_name("Running 0", timeout=20_000)  # it ended: polled while it ran
    expect(panel).to_contain_text("Nothing is running right now.")
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()


def test_a_running_generation_is_cancelled_from_the_headers_list(new_page, alice):
    page = new_page(viewport=PHONE)
    log_in(page, "alice")
    page.goto("/studio/")
    page.get_by_label("Prompt", exact=True).fill("a slow heron [sim:delay=60]")
    page.get_by_label("Width").fill("256")
    page.get_by_label("Height").fill("256")
    page.get_by_label("Number of images").fill("1")
    page.get_by_role("button", name="Generate", exact=True).click()
    running = page.get_by_role("button", name=re.compile(r"^Running"))
    expect(running).to_have_accessible_name("Running 1")

    running.click()
    page.get_by_role("region", name="Running tasks").get_by_role("button", name=re.compile("^Cancel")).click()

    expect(page).to_have_url(re.compile(r"/studio/$"))
    expect(page.locator("#toasts")).to_contain_text("Cancelled.")
    expect(running).to_have_accessible_name("Running 0")
    assert (
        Task.objects.get(user=alice, params__positivePrompt__startswith="a slow heron").status
        == Task.Status.CANCELLED
    )


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_screenshots_of_the_main_pages(new_page, alice, tmp_path, scheme, size):
    viewport = DESKTOP if size == "desktop" else PHONE
    page = new_page(viewport=viewport, color_scheme=scheme)
    log_in(page, "alice")
    folder = shots(tmp_path)
    for name, path in [
        ("studio", "/studio/"),
        ("gallery", "/gallery/"),
        ("history", "/history/"),
        ("spend", "/spend/"),
        ("keys", "/keys/"),
        ("chat", "/chat/"),
    ]:
        page.goto(path)
        page.wait_for_load_state("networkidle")
        assert page.evaluate(SIDEWAYS) <= 0, f"{path} is wider than the screen: {page.evaluate(STICKING_OUT)}"
        page.screenshot(path=str(folder / f"shell-{name}-{size}-{scheme}.png"))
    if size == "phone":
        page.get_by_role("button", name="Menu").click()
        page.screenshot(path=str(folder / f"shell-menu-{size}-{scheme}.png"))
        page.get_by_role("button", name="Menu").click()
    page.get_by_role("button", name=re.compile(r"^Running")).click()
    expect(page.get_by_role("region", name="Running tasks")).to_contain_text("Nothing is running right now.")
    assert page.evaluate(SIDEWAYS) <= 0, (
        f"the open list is wider than the screen: {page.evaluate(STICKING_OUT)}"
    )
    page.screenshot(path=str(folder / f"shell-activity-{size}-{scheme}.png"))
