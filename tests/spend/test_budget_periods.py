"""Budgets of a day, a week or a month: admission and the pages count the charges since the period's start."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse

from runware_web.accounts.models import AuditEntry, BudgetPeriod, Role, Team
from runware_web.money import reports
from runware_web.money.models import Charge
from runware_web.runner.admit import admit_and_create
from runware_web.upstream.errors import Refused
from runware_web.upstream.models import Task
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

MODEL = "runware:101@1"
PARAMS = {"model": MODEL, "positivePrompt": "a lighthouse at dusk", "width": 512, "height": 512, "steps": 20}
COST = Decimal("0.01")


def charge(user, amount: Decimal, at) -> Charge:
    task = Task.objects.create(user=user, team=user.team, feature="spend-test", task_type="imageInference",
                               model=MODEL, params=PARAMS, status=Task.Status.DONE, cost=amount, finished_at=at)
    return Charge.objects.create(task=task, user=user, team=user.team, task_type="imageInference", model=MODEL,
                                 result_key="#0", amount=amount, created_at=at)


def admit(user, estimate: Decimal = COST) -> Task:
    with transaction.atomic():
        return admit_and_create(user=user, feature="spend-test", task_type="imageInference", params=PARAMS,
                                number_results=1, estimated_cost=estimate, delivery="sync")


@pytest.mark.parametrize(("kind", "day", "first"), [
    ("day", date(2026, 3, 4), date(2026, 3, 4)),
    ("week", date(2026, 3, 4), date(2026, 3, 2)),  # a Wednesday: the week began on Monday
    ("week", date(2026, 3, 2), date(2026, 3, 2)),  # a Monday is its own week's first day
    ("week", date(2026, 3, 1), date(2026, 2, 23)),  # a Sunday belongs to the week before
    ("month", date(2026, 3, 4), date(2026, 3, 1)),
])
def test_each_kind_of_period_starts_where_people_expect(kind, day, first):
    period = reports.budget_period(kind, day)
    assert (period.first, period.last) == (first, day)


@pytest.mark.parametrize("kind", ["day", "week", "month"])
def test_a_charge_just_before_the_period_counts_for_nothing_and_one_at_its_start_counts(kind):
    alice = make_user("alice", monthly_budget=Decimal("0.025"), budget_period=kind)
    start = reports.period_start(kind)
    charge(alice, Decimal("1.00"), start - timedelta(microseconds=1))  # the period before: forgotten
    charge(alice, COST, start)
    use = reports.member_budget_use(alice)
    assert use.spent == COST and use.period == kind
    admit(alice)  # $0.01 spent + $0.01 = $0.02, within $0.025
    with pytest.raises(Refused) as refused:
        admit(alice)  # a third would make $0.03
    adjective = {"day": "daily", "week": "weekly", "month": "monthly"}[kind]
    assert f"your {adjective} budget of $0.025" in refused.value.message
    assert Task.objects.filter(user=alice, status=Task.Status.RUNNING).count() == 1  # the refused one was not written


def test_a_teams_weekly_budget_counts_every_members_charges_since_monday():
    team = Team.objects.create(name="Pixels", monthly_budget=Decimal("0.02"), budget_period=BudgetPeriod.WEEK)
    alice, bob = make_user("alice", team=team), make_user("bob", team=team)
    start = reports.period_start("week")
    charge(alice, Decimal("5.00"), start - timedelta(seconds=1))  # last week's
    charge(alice, COST, start + timedelta(seconds=1))
    admit(bob)
    with pytest.raises(Refused) as refused:
        admit(bob)
    assert "team Pixels's weekly budget of $0.02" in refused.value.message
    assert reports.team_budget_use(team).spent == COST


def test_a_team_admin_sets_a_members_and_the_teams_period_and_both_are_audited():
    team = Team.objects.create(name="Pixels")
    tess = make_user("tess", team=team, role=Role.TEAM_ADMIN)
    alice = make_user("alice", team=team)
    client = Client()
    client.force_login(tess)
    client.post(reverse("team:member", args=[alice.pk]),
                {"role": "member", "monthly_budget": "5", "budget_period": "week"})
    client.post(reverse("team:team_budget", args=[team.pk]), {"monthly_budget": "50", "budget_period": "day"})
    alice.refresh_from_db()
    team.refresh_from_db()
    assert (alice.budget_period, team.budget_period) == ("week", "day")
    entries = AuditEntry.objects.filter(action=AuditEntry.Action.PERIOD).order_by("at", "pk")
    assert [(e.target, e.before, e.after, e.actor_name) for e in entries] == [
        ("member alice", "Month", "Week", "tess"), ("team Pixels", "Month", "Day", "tess"),
    ]
    page = client.get(reverse("team:members")).content.decode()
    assert "Weekly budget of alice (USD)" in page and "Daily budget of Pixels (USD)" in page
    assert "Spent this week: $0.00" in page and "Spent today: $0.00" in page


def test_staff_set_a_period_on_the_spend_page_and_it_is_audited(staff_user):
    alice = make_user("alice")
    client = Client()
    client.force_login(staff_user)
    response = client.post(reverse("spend:member_budget", args=[alice.pk]),
                           {"monthly_budget": "3", "budget_period": "day"})
    assert response.status_code == 302
    alice.refresh_from_db()
    assert (alice.monthly_budget, alice.budget_period) == (Decimal("3"), "day")
    entry = AuditEntry.objects.get(action=AuditEntry.Action.PERIOD)
    assert (entry.before, entry.after, entry.actor_name) == ("Month", "Day", staff_user.username)
    assert "left of $3.00 today" in client.get(reverse("spend:index")).content.decode()


def test_a_budget_form_without_a_period_keeps_the_one_saved(staff_user):
    """Forms and scripts made before periods existed send only the amount: the period stays."""
    alice = make_user("alice", budget_period=BudgetPeriod.WEEK)
    client = Client()
    client.force_login(staff_user)
    client.post(reverse("spend:member_budget", args=[alice.pk]), {"monthly_budget": "4"})
    alice.refresh_from_db()
    assert (alice.monthly_budget, alice.budget_period) == (Decimal("4"), "week")
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.PERIOD).exists()


def test_existing_members_and_teams_keep_monthly_budgets():
    """The migration's default: an install that had budgets before periods existed changes nothing."""
    assert make_user("alice").budget_period == Team.objects.create(name="Pixels").budget_period == "month"
