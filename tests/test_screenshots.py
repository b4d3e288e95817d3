"""The README's screenshots (docs/screenshots/): the studio, gallery, viewer, chat and spend pages
with real work on them, at 1440×1000 and 390×844. Run only when asked:

    RUNWARE_WEB_SCREENSHOTS=docs/screenshots python3 manage.py runtests tests/test_screenshots.py

Everything here is made the way a member makes it (through the pages, on the simulator).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from runware_web.accounts.models import Team
from tests.browser import log_in
from tests.conftest import make_user

SHOTS = os.environ.get("RUNWARE_WEB_SCREENSHOTS")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not SHOTS, reason="only to refresh docs/screenshots: set RUNWARE_WEB_SCREENSHOTS"),
]
SIZES = {"": {"width": 1440, "height": 1000}, "-phone": {"width": 390, "height": 844}}
PROMPTS = [
    "a lighthouse at dusk, oil painting, warm light on the water",
    "a red fox in fresh snow, morning light, telephoto",
]


def shoot(page, name: str) -> None:
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(Path(SHOTS) / f"{name}.png"))


@pytest.mark.timeout(600)
def test_screenshots_for_the_readme(new_page):
    team = Team.objects.create(name="Pixels", monthly_budget="150")
    make_user("alice", team=team, is_staff=True, monthly_budget="25")
    make_user("bob", team=team)
    setup = new_page(viewport=SIZES[""])
    log_in(setup, "alice")
    setup.goto("/studio/")
    for prompt in PROMPTS:
        setup.get_by_label("Prompt", exact=True).fill(prompt)
        setup.get_by_label("Number of images").fill("2")
        setup.get_by_role("button", name="Generate", exact=True).click()
        expect(setup.locator(".generation").first).to_contain_text("Done", timeout=60_000)
    setup.goto("/chat/")
    setup.get_by_role("button", name="New conversation").click()
    setup.get_by_label("Message").fill("Write a Python function that names the colour of a pixel")
    setup.get_by_role("button", name="Send").click()
    expect(setup.locator(".message-assistant .stats")).to_contain_text("Cost", timeout=30_000)
    chat_url = setup.url

    for suffix, viewport in SIZES.items():
        page = new_page(viewport=viewport)
        log_in(page, "alice")
        page.goto("/studio/")
        expect(page.locator(".generation").first).to_contain_text("Done")
        shoot(page, f"studio{suffix}")
        page.goto("/gallery/")
        shoot(page, f"gallery{suffix}")
        page.locator("[data-viewer]").first.click()
        expect(page.locator("dialog[open]")).to_be_visible()
        expect(page.locator("dialog[open] img").first).to_be_visible()
        expect(page.locator("dialog[open] [aria-busy='true']")).to_have_count(0)
        page.evaluate("() => Promise.all([...document.querySelectorAll('dialog[open] img')].map(i => i.decode()))")
        shoot(page, f"viewer{suffix}")
        page.keyboard.press("Escape")
        page.goto(chat_url)
        shoot(page, f"chat{suffix}")
        page.goto("/spend/")
        shoot(page, f"spend{suffix}")
