"""Budget and rate-limit admission. Called inside the transaction that creates the Task row.

Atomic under concurrency: on PostgreSQL the member's and team's rows are locked (`SELECT … FOR
UPDATE`, always user first, then team) so two admissions for the same budget queue up; on SQLite
every transaction is IMMEDIATE (see settings), which serialises writers the same way.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import DecimalField, ExpressionWrapper, F, Q, QuerySet, Sum, Value
from django.db.models.functions import Greatest
from django.utils import timezone

from runware_web.accounts.models import Team, User
from runware_web.spend.models import Charge
from runware_web.upstream.models import Task
from runware_web.upstream.errors import Refused

ZERO = Decimal(0)


def month_start(now: datetime | None = None) -> datetime:
    now = timezone.localtime(now or timezone.now())
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def committed(*, charges: QuerySet, active_tasks: QuerySet) -> Decimal:
    """Spend this month plus what still-running tasks are expected to add on top of it."""
    spent = charges.filter(created_at__gte=month_start()).aggregate(total=Sum("amount"))["total"] or ZERO
    outstanding = ExpressionWrapper(
        Greatest(F("estimated_cost") - F("cost"), Value(ZERO)), output_field=DecimalField(max_digits=18, decimal_places=10)
    )
    reserved = active_tasks.filter(finished_at__isnull=True).aggregate(total=Sum(outstanding))["total"] or ZERO
    return spent + reserved


def _active(**filters) -> QuerySet:
    return Task.objects.filter(
        Q(status__in=[Task.Status.QUEUED, Task.Status.RUNNING]) | Q(status=Task.Status.CANCELLED, finished_at__isnull=True),
        **filters,
    )


def user_committed(user: User) -> Decimal:
    return committed(charges=Charge.objects.filter(user=user), active_tasks=_active(user=user))


def team_committed(team: Team) -> Decimal:
    return committed(charges=Charge.objects.filter(team=team), active_tasks=_active(team=team))


def admit(*, user: User, estimate: Decimal) -> None:
    """Refuse the task (raise Refused) if it would break a limit; must run inside transaction.atomic."""
    locked_user = User.objects.select_for_update().get(pk=user.pk)
    team = Team.objects.select_for_update().filter(pk=locked_user.team_id).first() if locked_user.team_id else None

    limit = settings.RATE_LIMIT_PER_MINUTE
    if limit:
        recent = Task.objects.filter(user=locked_user, created_at__gte=timezone.now() - timedelta(minutes=1)).count()
        if recent >= limit:
            raise Refused(
                f"You have started {recent} tasks in the last minute, the most allowed is {limit}. "
                "Wait a moment and try again."
            )

    user_budget = locked_user.monthly_budget if locked_user.monthly_budget is not None else settings.DEFAULT_USER_BUDGET
    if user_budget is not None:
        remaining = user_budget - user_committed(locked_user)
        if estimate > remaining:
            raise Refused(
                f"This would exceed your monthly budget of ${user_budget:.2f}: ${max(remaining, ZERO):.4f} "
                f"remains and this is estimated at ${estimate:.4f}. Ask an administrator to raise it."
            )
    if team is not None and team.monthly_budget is not None:
        remaining = team.monthly_budget - team_committed(team)
        if estimate > remaining:
            raise Refused(
                f"This would exceed team {team.name}'s monthly budget of ${team.monthly_budget:.2f}: "
                f"${max(remaining, ZERO):.4f} remains and this is estimated at ${estimate:.4f}."
            )
