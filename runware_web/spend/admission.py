"""Budget and rate-limit admission. Called inside the transaction that creates the Task row.

Atomic under concurrency: on PostgreSQL the member's and team's rows are locked (`SELECT … FOR
UPDATE`, always user first, then team) so two admissions for the same budget queue up, and each
reads what the previous one committed; on SQLite every transaction is IMMEDIATE (see settings),
which serialises writers the same way. The Task row written in the same transaction carries the
estimate, so the next admission counts it as reserved until its real cost arrives.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connection
from django.db.models import Count, Min
from django.utils import timezone

from runware_web.accounts.models import Team, User
from runware_web.spend import reports
from runware_web.spend.models import Charge
from runware_web.spend.reports import BudgetUse
from runware_web.upstream.errors import Refused
from runware_web.upstream.models import Task

ZERO = Decimal(0)


def month_start(now: datetime | None = None) -> datetime:
    now = timezone.localtime(now or timezone.now())
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def user_committed(user: User) -> Decimal:
    """The member's spend this month plus what their running tasks are expected to add."""
    return reports.member_budget_use(user).committed


def team_committed(team: Team) -> Decimal:
    return reports.team_budget_use(team).committed


def usd(amount: Decimal) -> str:
    """Money for a sentence: cents, or every digit Runware gave when it is less than that."""
    return f"${reports.plain_amount(amount)}"


def admit(*, user: User, estimate: Decimal) -> None:
    """Refuse the task (raise Refused) if it would break a limit; must run inside transaction.atomic."""
    refused = admit_many(user=user, estimates=[estimate])[0]
    if refused is not None:
        raise refused


def admit_many(*, user: User, estimates: list[Decimal]) -> list[Refused | None]:
    """Admit several tasks of one member in order, as if one after the other: each admitted task
    reserves its estimate before the next is weighed. Returns None for each admitted task and the
    Refused for each refused one. Must run inside the transaction that creates the admitted tasks.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("admit() must run inside the transaction that creates the task")
    locked_user = User.objects.select_for_update().get(pk=user.pk)
    team = Team.objects.select_for_update().filter(pk=locked_user.team_id).first() if locked_user.team_id else None

    recent = _recent_tasks(locked_user)
    own = BudgetUse(
        budget=reports.user_budget(locked_user),
        spent=reports.total(Charge.objects.filter(user=locked_user, created_at__gte=month_start())),
        running=reports.reserved(Task.objects.filter(user=locked_user)),
    )
    shared = reports.team_budget_use(team) if team is not None and team.monthly_budget is not None else None
    outcomes: list[Refused | None] = []
    for estimate in estimates:
        refused = _rate_refusal(recent) or _budget_refusal(own, shared, team, estimate)
        outcomes.append(refused)
        if refused is None:
            recent.count += 1
            own.running += estimate
            if shared is not None:
                shared.running += estimate
    return outcomes


def lock_members(user_ids: list[int]) -> None:
    """Lock several members' rows, then their teams', each in id order: the one order every
    admission follows (a member before their team), so that transactions admitting several
    members at once (the runner's group commits, on several workers) never wait in a cycle."""
    team_ids = list(
        User.objects.select_for_update().filter(pk__in=user_ids).order_by("pk").values_list("team_id", flat=True)
    )
    list(Team.objects.select_for_update().filter(pk__in=[pk for pk in team_ids if pk]).order_by("pk").values("pk"))


def _budget_refusal(own: BudgetUse, shared: BudgetUse | None, team: Team | None, estimate: Decimal) -> Refused | None:
    if own.budget is not None and own.committed + estimate > own.budget:
        return Refused(
            f"This would go over your monthly budget of {usd(own.budget)}: {usd(own.remaining)} remains "
            f"and this task is estimated at {usd(estimate)}. Try fewer or smaller results, or ask an "
            "administrator to raise your budget."
        )
    if team is not None and shared is not None and shared.budget is not None and (
        shared.committed + estimate > shared.budget
    ):
        return Refused(
            f"This would go over team {team.name}'s monthly budget of {usd(shared.budget)}: "
            f"{usd(shared.remaining)} remains and this task is estimated at {usd(estimate)}. "
            "Try fewer or smaller results, or ask an administrator to raise the team's budget."
        )
    return None


@dataclass
class _RecentTasks:
    """The member's tasks started in the last minute, for the rate limit."""

    count: int
    oldest: datetime | None


def _recent_tasks(user: User) -> _RecentTasks:
    if not settings.RATE_LIMIT_PER_MINUTE:
        return _RecentTasks(count=0, oldest=None)
    since = timezone.now() - timedelta(minutes=1)
    recent = Task.objects.filter(user=user, created_at__gte=since)
    summary = recent.aggregate(count=Count("pk"), oldest=Min("created_at"))
    return _RecentTasks(count=summary["count"], oldest=summary["oldest"])


def _rate_refusal(recent: _RecentTasks) -> Refused | None:
    limit = settings.RATE_LIMIT_PER_MINUTE
    if not limit or recent.count < limit:
        return None
    oldest = recent.oldest
    wait = max(1, int((oldest + timedelta(minutes=1) - timezone.now()).total_seconds()) + 1) if oldest else 60
    return Refused(
        f"You have started {recent.count} tasks in the last minute; the limit is {limit} a minute. "
        f"Try again in {wait} seconds."
    )
