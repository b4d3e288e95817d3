"""What staff read on /spend/ and download from the export, and what a member reads on their usage page."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from runware_web.accounts.models import Team
from runware_web.money import reports
from tests.conftest import make_user
from tests.spend.helpers import add_charge

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, staff_user):
    client.force_login(staff_user)
    return client


def days_ago(n: int):
    return timezone.now() - timedelta(days=n)


def test_totals_per_member_and_team_are_exact_sums_for_the_period(staff_client, user, other_user, team):
    add_charge(user, "0.00412345")
    add_charge(user, "0.1", task_type="textInference", model="google:gemma@4-31b")
    add_charge(other_user, "0.0002", task_type="caption", model="runware:150@2")
    add_charge(user, "5", at=days_ago(40))  # outside "last 7 days"

    page = staff_client.get("/spend/?period=7d").content.decode()

    assert "$0.10432345" in page  # everything in the period
    member_row = page[page.index(f'id="member-{user.pk}"'):]
    assert "$0.10412345" in member_row[:member_row.index("</tr>")]
    team_row = page[page.index(f'id="team-{team.pk}"'):]
    assert "$0.10412345" in team_row[:team_row.index("</tr>")]
    no_team_row = page[page.index('id="team-none"'):]
    assert "$0.0002" in no_team_row[:no_team_row.index("</tr>")]
    assert "$5.00" not in page.split('id="spend-newest"')[0]  # not counted in the period's figures


def test_breakdowns_by_model_and_task_type(staff_client, user):
    add_charge(user, "0.003", model="runware:101@1")
    add_charge(user, "0.001", model="runware:101@1")
    add_charge(user, "0.0007", task_type="upscale", model="runware:504@1")

    page = staff_client.get("/spend/").content.decode()
    models = page[page.index('id="spend-models-title"'):page.index('id="spend-kinds-title"')]
    assert models.index("runware:101@1") < models.index("runware:504@1")  # biggest first
    assert "$0.004" in models and "$0.0007" in models
    kinds = page[page.index('id="spend-kinds-title"'):]
    assert "Image generation" in kinds and "Upscale" in kinds


def test_the_daily_chart_is_an_svg_with_a_bar_per_day(staff_client, user):
    add_charge(user, "0.5", at=days_ago(2))
    add_charge(user, "0.25")
    page = staff_client.get("/spend/?period=7d").content.decode()
    chart = page[page.index('<svg'):page.index('</svg>')]
    assert chart.count('class="chart-bar"') == 7
    assert f"{timezone.localdate():%a %-d %b}: $0.25 (1 charge)" in chart
    assert "<script" not in chart


def test_the_chart_says_what_to_do_when_nothing_was_spent(staff_client):
    page = staff_client.get("/spend/").content.decode()
    assert "Nothing was spent in these days" in page
    assert "No charges yet." in page


def test_custom_dates_are_inclusive(staff_client, user):
    add_charge(user, "0.01", at=days_ago(10))
    add_charge(user, "0.02", at=days_ago(5))
    add_charge(user, "0.04")
    first, last = (timezone.localdate() - timedelta(days=10)), (timezone.localdate() - timedelta(days=5))
    page = staff_client.get(f"/spend/?period=custom&from={first}&to={last}").content.decode()
    summary = page[page.index('id="spend-summary"'):page.index('id="spend-chart-card"')]
    assert "$0.03" in summary


def test_bad_custom_dates_are_explained_next_to_the_field_and_kept(staff_client, user):
    add_charge(user, "0.04")
    response = staff_client.get("/spend/?period=custom&from=2026-05-10&to=2026-05-01")
    page = response.content.decode()
    assert response.status_code == 200
    assert "The end date is before the start date." in page
    assert 'value="2026-05-10"' in page and 'value="2026-05-01"' in page
    assert "shows this month" in page
    assert "$0.04" in page  # this month's figures instead


def test_names_are_escaped(staff_client, team):
    team.name = "<script>alert(1)</script>"
    team.save()
    evil = make_user("eve", team=team, first_name="<img src=x onerror=alert(2)>")
    add_charge(evil, "0.01", model="<b>model</b>")
    page = staff_client.get("/spend/").content.decode()
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page
    assert "<img src=x" not in page
    assert "<b>model</b>" not in page


def test_a_budget_saved_without_javascript(staff_client, user, team):
    response = staff_client.post(f"/spend/budgets/member/{user.pk}/", {"monthly_budget": "12.5"}, follow=True)
    assert "Saved the monthly budget of alice." in response.content.decode()
    staff_client.post(f"/spend/budgets/team/{team.pk}/", {"monthly_budget": "100"})
    user.refresh_from_db()
    team.refresh_from_db()
    assert user.monthly_budget == Decimal("12.5") and team.monthly_budget == Decimal("100")
    staff_client.post(f"/spend/budgets/member/{user.pk}/", {"monthly_budget": ""})
    user.refresh_from_db()
    assert user.monthly_budget is None  # empty: no limit


def test_a_bad_budget_is_explained_next_to_its_field_and_kept(staff_client, user):
    response = staff_client.post(f"/spend/budgets/member/{user.pk}/", {"monthly_budget": "-3"})
    page = response.content.decode()
    assert response.status_code == 400
    form = page[page.index(f'id="budget-member-{user.pk}"'):]
    form = form[:form.index("</form>")]
    assert "greater than or equal to 0" in form
    assert 'value="-3"' in form
    user.refresh_from_db()
    assert user.monthly_budget is None


def test_budget_use_shows_what_remains_of_the_month(staff_client, user, team):
    user.monthly_budget = Decimal("1")
    user.save()
    add_charge(user, "0.25")
    add_charge(user, "0.5", at=reports.month_period().start - timedelta(hours=1))  # last month
    page = staff_client.get("/spend/").content.decode()
    row = page[page.index(f'id="member-{user.pk}"'):]
    row = row[:row.index("</tr>")]
    assert "$0.75</strong> left of $1.00" in row
    assert 'aria-valuenow="25"' in row


# ---------------------------------------------------------------------- the CSV export


def read_csv(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_the_export_has_one_row_per_charge_with_the_exact_cost(staff_client, user, other_user):
    first = add_charge(user, "0.00412345", at=days_ago(3))
    add_charge(other_user, "0.1", task_type="textInference", model="google:gemma@4-31b")
    add_charge(user, "9", at=days_ago(20))  # before the range
    start, end = timezone.localdate() - timedelta(days=3), timezone.localdate()
    response = staff_client.get(f"/spend/export.csv?from={start}&to={end}")
    assert response["Content-Disposition"] == f'attachment; filename="runware-spend-{start}-to-{end}.csv"'
    header, *rows = read_csv(response)
    assert header == ["time", "user", "team", "task_type", "model", "task_id", "cost"]
    assert [row[6] for row in rows] == ["0.00412345", "0.1"]  # oldest first
    assert rows[0][1:6] == ["alice", "Pixels", "imageInference", "runware:101@1", str(first.task_id)]
    assert rows[1][2] == ""  # mallory has no team
    assert sum(Decimal(row[6]) for row in rows) == Decimal("0.10412345")


def test_the_export_keeps_spreadsheets_from_running_names(staff_client, team):
    team.name = "=HYPERLINK(\"http://evil\")"
    team.save()
    add_charge(make_user("carol", team=team), "0.01")
    _, row = read_csv(staff_client.get("/spend/export.csv"))
    assert row[2] == "'=HYPERLINK(\"http://evil\")"


@pytest.mark.parametrize("query, message", [
    ("from=yesterday", "from: Enter a valid date."),
    ("from=2026-05-10&to=2026-05-01", "The end date is before the start date."),
])
def test_bad_export_dates_say_what_to_fix(staff_client, query, message):
    response = staff_client.get(f"/spend/export.csv?{query}")
    assert response.status_code == 400
    assert message in response.content.decode()
    assert "from=YYYY-MM-DD" in response.content.decode()


# ---------------------------------------------------------------------- a member's usage


def test_usage_shows_this_month_by_kind_and_what_remains(alice_client, user, team):
    user.monthly_budget = Decimal("2")
    user.save()
    team.monthly_budget = Decimal("10")
    team.save()
    colleague = make_user("bob", team=team)
    add_charge(user, "0.5")
    add_charge(user, "0.125", task_type="textInference", model="google:gemma@4-31b")
    add_charge(colleague, "3")
    add_charge(user, "7", at=reports.month_period().start - timedelta(hours=1))  # last month

    page = alice_client.get("/account/usage/").content.decode()
    assert "$0.625" in page
    assert "$1.375 left" in page  # 2 − 0.625
    assert "$6.375 left" in page  # 10 − 3.625, the whole team
    assert "Image generation" in page and "Chat reply" in page
    assert "$7.00" not in page
    assert 'class="chart-bar"' in page


def test_usage_without_charges_says_what_to_do(alice_client):
    page = alice_client.get("/account/usage/").content.decode()
    assert "Nothing spent yet this month" in page
    assert 'href="/studio/"' in page
    assert "No limit" in page


def test_usage_without_a_team_says_so(client, other_user):
    client.force_login(other_user)
    assert "You are not in a team" in client.get("/account/usage/").content.decode()


def test_the_budget_fields_in_the_admin_are_editable(staff_client, user):
    response = staff_client.get("/admin/accounts/user/")
    assert 'name="form-0-monthly_budget"' in response.content.decode()
    response = staff_client.get(f"/admin/accounts/team/{Team.objects.get().pk}/change/")
    assert 'name="monthly_budget"' in response.content.decode()
