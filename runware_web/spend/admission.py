"""Budget and rate-limit admission. Called inside the transaction that creates the Task row.

Atomic under concurrency: on PostgreSQL the member's and team's rows are locked (`SELECT … FOR
UPDATE`, always user first, then team) so two admissions for the same budget queue up, and each
reads what the previous one committed; on SQLite every transaction is IMMEDIATE (see settings),
which serialises writers the same way. The Task row written in the same transaction carries the
estimate, so the next admission counts it as reserved until its real cost arrives.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connection
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
    if not connection.in_atomic_block:
        raise RuntimeError("admit() must run inside the transaction that creates the task")
    locked_user = User.objects.select_for_update().get(pk=user.pk)
    team = Team.objects.select_for_update().filter(pk=locked_user.team_id).first() if locked_user.team_id else None

    _check_rate(locked_user)

    own = BudgetUse(
        budget=reports.user_budget(locked_user),
        spent=reports.total(Charge.objects.filter(user=locked_user, created_at__gte=month_start())),
        running=reports.reserved(Task.objects.filter(user=locked_user)),
    )
    if own.budget is not None and own.committed + estimate > own.budget:
        raise Refused(
            f"This would go over your monthly budget of {usd(own.budget)}: {usd(own.remaining)} remains "
            f"and this task is estimated at {usd(estimate)}. Try fewer or smaller results, or ask an "
            "administrator to raise your budget."
        )
    if team is not None and team.monthly_budget is not None:
        shared = reports.team_budget_use(team)
        if shared.committed + estimate > team.monthly_budget:
            raise Refused(
                f"This would go over team {team.name}'s monthly budget of {usd(team.monthly_budget)}: "
                f"{usd(shared.remaining)} remains and this task is estimated at {usd(estimate)}. "
                "Try fewer or smaller results, or ask an administrator to raise the team's budget."
            )


def _check_rate(user: User) -> None:
    limit = settings.RATE_LIMIT_PER_MINUTE
    if not limit:
        return
    since = timezone.now() - timedelta(minutes=1)
    recent = Task.objects.filter(user=user, created_at__gte=since).order_by("created_at")
    count = recent.count()
    if count >= limit:
        oldest = recent.values_list("created_at", flat=True).first()
        wait = max(1, int((oldest + timedelta(minutes=1) - timezone.now()).total_seconds()) + 1) if oldest else 60
        raise Refused(
            f"You have started {count} tasks in the last minute; the limit is {limit} a minute. "
            f"Try again in {wait} seconds."
        )
