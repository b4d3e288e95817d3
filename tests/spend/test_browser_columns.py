"""The Spend tables name each column once: "Budget period" (each budget's own day, week or month so
far) stands apart only when the period shown is not this month."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from runware_web.accounts.models import Team
from tests.browser import log_in
from tests.conftest import make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def headings(page, table: str) -> list[str]:
    return page.get_by_role("region", name=table).get_by_role("columnheader").all_text_contents()


def test_each_column_of_the_members_and_teams_tables_is_headed_once(page):
    make_user("sam", is_staff=True, is_superuser=True, team=Team.objects.create(name="Pixels"))
    log_in(page, "sam")

    page.goto("/spend/")  # this month, the page's default
    expect(page.get_by_role("region", name="Members").get_by_role("row")).to_have_count(2)
    assert headings(page, "Members") == ["Member", "This month", "Budget"]
    assert headings(page, "Teams") == ["Team", "This month", "Budget"]

    page.get_by_label("Period").select_option("Last 7 days")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("region", name="Members").get_by_role("columnheader", name="Last 7 days")).to_be_visible()
    assert headings(page, "Members") == ["Member", "Last 7 days", "Budget period", "Budget"]
    assert headings(page, "Teams") == ["Team", "Last 7 days", "Budget period", "Budget"]
