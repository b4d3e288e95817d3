"""Staff watch spend live in Chromium, and set budgets from the page."""

from __future__ import annotations

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from runware_web.accounts.models import Team
from runware_web.money.models import Charge
from tests.browser import log_in
from tests.conftest import make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

def test_staff_see_a_members_total_change_without_reloading(page, new_page):
    team = Team.objects.create(name="Pixels")
    make_user("sam", is_staff=True, is_superuser=True)
    alice = make_user("alice", team=team)

    log_in(page, "sam")
    page.goto("/spend/")
    expect(page.get_by_role("heading", name="Spend", exact=True)).to_be_visible()
    expect(page.locator("[data-live-badge]")).to_have_text("Live")
    total = page.locator(f"#member-{alice.pk} [data-period-total]")
    expect(total).to_contain_text("$0.00")
    expect(total).to_contain_text("0 charges")
    expect(page.get_by_text("No charges yet.")).to_be_visible()
    page.evaluate("window.notReloaded = true")

    member = new_page()  # alice, in another browser, generates an image in the studio
    log_in(member, "alice")
    member.goto("/studio/")
    member.get_by_label("Prompt", exact=True).fill("a lighthouse at dusk, oil painting")
    member.get_by_label("Width").fill("256")
    member.get_by_label("Height").fill("256")
    member.get_by_role("button", name="Generate").click()

    expect(total).to_contain_text("1 charge", timeout=20_000)
    charge = Charge.objects.get(user=alice)
    cost = f"${charge.amount.normalize()}"
    expect(total).to_contain_text(cost)
    expect(page.locator(f"#team-{team.pk} [data-period-total]")).to_contain_text(cost)
    expect(page.locator(f"#charge-{charge.pk}")).to_contain_text("Image generation")
    expect(page.locator("#spend-summary [data-total]")).to_have_text(cost)
    assert page.evaluate("window.notReloaded") is True

    member.goto("/account/usage/")
    expect(member.locator("[data-total]")).to_have_text(cost)


def test_staff_set_a_budget_on_the_page_and_see_what_remains(page):
    make_user("sam", is_staff=True, is_superuser=True)
    alice = make_user("alice")
    log_in(page, "sam")
    page.goto("/spend/")
    expect(page.locator("[data-live-badge]")).to_have_text("Live")

    field = page.get_by_label("Monthly budget of alice (USD)")
    field.fill("99999999999")
    page.get_by_role("button", name="Save budget of alice").click()
    expect(page.locator(f"#budget-member-{alice.pk}")).to_contain_text("no more than 10 digits before the decimal")
    expect(page.get_by_label("Monthly budget of alice (USD)")).to_have_value("99999999999")

    page.get_by_label("Monthly budget of alice (USD)").fill("3")
    page.get_by_role("button", name="Save budget of alice").click()
    expect(page.locator(f"#budget-member-{alice.pk}").get_by_role("status")).to_have_text("Saved")
    expect(page.locator(f"#member-{alice.pk}")).to_contain_text("$3.00 left of $3.00")
    alice.refresh_from_db()
    assert alice.monthly_budget == Decimal("3")


def test_the_balance_and_reconciliation_show_on_the_page(page, simulator):
    make_user("sam", is_staff=True, is_superuser=True)
    log_in(page, "sam")
    page.goto("/spend/")
    reconciliation = page.locator("#reconciliation")
    expect(reconciliation).to_contain_text("This is the starting point")
    page.get_by_role("button", name="Check balance now").click()
    expect(reconciliation.get_by_text("Matches")).to_be_visible()
