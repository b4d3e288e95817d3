"""A person logs in through the real login page in Chromium and sees the portal's shell."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser import log_in
from tests.conftest import make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_logging_in_shows_the_shell(page):
    make_user("alice")
    page.goto("/gallery/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/gallery/$"))
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("enter a correct username and password")
    log_in(page, "alice")
    nav = page.get_by_role("navigation", name="Main")
    for label in ["Studio", "Gallery", "History", "Models", "Chat", "Tools"]:
        expect(nav.get_by_role("link", name=label)).to_be_visible()
    expect(nav.get_by_role("link", name="Spend")).to_have_count(0)
    expect(page.get_by_text("Offline simulator")).to_be_visible()
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_label("Username")).to_be_visible()
