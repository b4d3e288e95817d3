"""A member generating in the studio again and again: the page's console stays clean.

Every browser test fails on a console error (tests/browser.py); these go through what a daily member does
most: one generation after another, a refused form and a corrected one, and the page's icon.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser import log_in
from tests.conftest import make_user
from tests.studio.helpers import PROMPT

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def generate(page, prompt: str, width: str = "256") -> None:
    page.get_by_label("Prompt", exact=True).fill(prompt)
    page.get_by_label("Width").fill(width)
    page.get_by_label("Height").fill("256")
    page.get_by_label("Number of images").fill("1")
    page.get_by_role("button", name="Generate", exact=True).click()


def test_generation_after_generation_logs_no_console_error(page, browser_problems):
    make_user("alice")
    log_in(page, "alice")
    page.goto("/studio/")
    results = page.get_by_role("region", name="Results")

    generate(page, PROMPT)
    expect(results.get_by_role("img", name=PROMPT)).to_have_count(1)
    generate(page, "a red fox in the snow")
    expect(results.get_by_role("img", name="a red fox in the snow")).to_have_count(1)
    browser_problems.check("after two generations")

    generate(page, "a blue whale", width="1000")  # refused by the form, then sent once corrected
    expect(page.locator("#errors-width")).to_contain_text("multiple of 64")
    generate(page, "a blue whale")
    expect(results.get_by_role("img", name="a blue whale")).to_have_count(1)
    expect(page.locator("#errors-width")).to_have_text("")

    page.get_by_label("Model", exact=True).fill("civitai:999999@1")  # Runware refuses it: said by the field
    generate(page, "a green heron")
    expect(page.locator("#id_model_error")).to_contain_text("does not know that model")


def test_the_portal_icon_loads_on_every_kind_of_page(page, live_server_url):
    """Browsers ask for /favicon.ico wherever no icon is declared (an image opened on its own, an
    error page): it is there, and the declared icon of the portal's pages is too."""
    make_user("alice")
    unasked = page.request.get(f"{live_server_url}/favicon.ico")  # before logging in: no login needed
    assert unasked.ok and unasked.headers["content-type"] == "image/svg+xml"
    log_in(page, "alice")
    declared = page.request.get(f"{live_server_url}{page.locator('link[rel=icon]').get_attribute('href')}")
    assert declared.ok and declared.body() == unasked.body()
