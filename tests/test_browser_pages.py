"""Where a member finds their own usage, and what a page that is not theirs (or not there) looks like."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser import log_in
from tests.conftest import make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_member_reaches_their_usage_from_the_main_navigation(page):
    make_user("alice")
    log_in(page, "alice")
    page.goto("/gallery/")

    usage = page.get_by_role("navigation", name="Main").get_by_role("link", name="Usage", exact=True)
    expect(usage).to_be_visible()
    usage.click()

    expect(page).to_have_url(re.compile(r"/account/usage/$"))
    expect(page.get_by_role("heading", name="Your usage")).to_be_visible()
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Usage")).to_have_attribute(
        "aria-current", "page")
