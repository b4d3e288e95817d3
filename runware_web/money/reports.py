"""Reading the ledger: periods, exact totals and the breakdowns the spend pages show.

Every figure here is an exact sum of `Charge` rows, computed by the database (see exact_sum()).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_UP, Decimal
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import BigIntegerField, Count, F, Q, QuerySet, Sum
from django.db.models.functions import Cast, Round, TruncDate
from django.utils import timezone

from runware_web.accounts.models import Team, User
from runware_web.lib.kinds import kind_label
from runware_web.lib.money import ZERO
from runware_web.money.models import Charge
from runware_web.upstream.models import Task

# ---------------------------------------------------------------------- periods


@dataclass(frozen=True)
class Period:
    """A range of whole local days, both ends included."""

    key: str
    first: date
    last: date
    label: str

    @property
    def start(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.first, time.min))

    @property
    def end(self) -> datetime:
        """The first moment after the period."""
        return timezone.make_aware(datetime.combine(self.last + timedelta(days=1), time.min))

    @property
    def days(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range((self.last - self.first).days + 1)]


def today() -> date:
    return timezone.localdate()


def month_period(day: date | None = None) -> Period:
    day = day or today()
    return Period("month", day.replace(day=1), day, "This month")


def preset_period(key: str) -> Period:
    now = today()
    if key == "today":
        return Period(key, now, now, "Today")
    if key == "7d":
        return Period(key, now - timedelta(days=6), now, "Last 7 days")
    if key == "30d":
        return Period(key, now - timedelta(days=29), now, "Last 30 days")
    return month_period(now)


def custom_period(first: date, last: date) -> Period:
    return Period("custom", first, last, f"{first:%d %b %Y} – {last:%d %b %Y}")


# ---------------------------------------------------------------------- exact sums


def charges_between(start: datetime, end: datetime) -> QuerySet[Charge]:
    return Charge.objects.filter(created_at__gte=start, created_at__lt=end)


def charges_in(period: Period) -> QuerySet[Charge]:
    return charges_between(period.start, period.end)


# PostgreSQL sums numerics exactly. SQLite keeps decimals as REAL, so summing them there would
# round; but every amount has at most COST's 10 decimal places and is far below $100,000, so
# amount × 10¹⁰ rounds to an exact integer, and SQLite sums integers exactly. Either way the
# total is exact and computed where the rows are, never by reading every row into Python.
DECIMAL_PLACES = Charge._meta.get_field("amount").decimal_places


def exact_sum(column: str = "amount") -> Sum:
    if connection.vendor == "postgresql":
        return Sum(column)
    return Sum(Cast(Round(F(column) * 10**DECIMAL_PLACES), BigIntegerField()))


def as_amount(value: Any) -> Decimal:
    """What exact_sum() gave, as a Decimal (zero for no rows)."""
    if value is None:
        return ZERO
    if connection.vendor == "postgresql":
        return value
    return Decimal(value).scaleb(-DECIMAL_PLACES)


def total(charges: QuerySet[Charge]) -> Decimal:
    """The exact sum of some ledger rows."""
    return as_amount(charges.order_by().aggregate(total=exact_sum())["total"])


@dataclass
class Group:
    """One line of a breakdown: the key it groups by, its exact total and how many charges."""

    key: Any
    total: Decimal = ZERO
    count: int = 0
    label: str = ""


def grouped(charges: QuerySet[Charge], key: str) -> dict[Any, Group]:
    """Exact totals of ledger rows grouped by one column (or annotation)."""
    rows = charges.order_by().values(key).annotate(total=exact_sum(), count=Count("id"))
    return {row[key]: Group(row[key], as_amount(row["total"]), row["count"]) for row in rows}


def by_day(charges: QuerySet[Charge], days: Iterable[date]) -> list[Group]:
    """One Group per day (zero for days without charges), in local days."""
    per_day = grouped(charges.annotate(day=TruncDate("created_at", tzinfo=timezone.get_current_timezone())), "day")
    return [per_day.get(day) or Group(day) for day in days]


def sorted_groups(groups: dict[Any, Group]) -> list[Group]:
    return sorted(groups.values(), key=lambda group: (-group.total, str(group.key)))


# ---------------------------------------------------------------------- budgets


def month_start() -> datetime:
    return month_period().start


#: A budget's period, as its messages and pages name it.
PERIOD_ADJECTIVES = {"day": "daily", "week": "weekly", "month": "monthly"}
PERIOD_SPANS = {"day": "today", "week": "this week", "month": "this month"}


def budget_period(kind: str, day: date | None = None) -> Period:
    """The budget period of this kind that contains `day` (today), so far: a local day, the week
    from Monday, or the calendar month. A budget counts the charges made since its first day."""
    day = day or today()
    if kind == "day":
        return Period("day", day, day, "Today")
    if kind == "week":
        return Period("week", day - timedelta(days=day.weekday()), day, "This week")
    return month_period(day)


def period_start(kind: str) -> datetime:
    return budget_period(kind).start


def reserved(tasks: QuerySet[Task]) -> Decimal:
    """What running tasks are still expected to cost on top of what they have been charged (a
    cancelled one too, until it ends: Runware still bills what it had started)."""
    rows = tasks.filter(
        Q(status__in=[Task.Status.QUEUED, Task.Status.RUNNING]) | Q(status=Task.Status.CANCELLED),
        finished_at__isnull=True,
    ).values_list(*RESERVING)
    return sum((still_reserved(*row) for row in rows), ZERO)


RESERVING = ("estimated_cost", "cost", "number_results", "results_received")
SHARE_QUANTUM = Decimal("0.0000000001")  # as a task's cost is kept


def still_reserved(estimate: Decimal, cost: Decimal, results: int, received: int) -> Decimal:
    """What a running task holds of a budget until its charges replace its estimate: the estimate
    less what was charged, and never less than the estimate's share of each result not yet charged
    (a first result dearer than its share does not free the budget the next ones need)."""
    share = (estimate / max(results, 1) * max(results - received, 0)).quantize(SHARE_QUANTUM, rounding=ROUND_UP)
    return max(estimate - cost, share, ZERO)


def period_starts(now: datetime | None = None) -> list[datetime]:
    """When the current day, week and month began (`period_start`): the values of `period_start_sql`."""
    day = timezone.localdate(now)
    return [budget_period(kind, day).start for kind in ("day", "week", "month")]


def period_start_sql(period: str) -> str:
    """When the budget period named by an SQL expression (a `budget_period` column) began, in SQL:
    one of three values, `period_starts()`; a month for anything else, as `budget_period` says."""
    return (f"CASE {period} WHEN 'day' THEN CAST(%s AS timestamp with time zone) "
            "WHEN 'week' THEN CAST(%s AS timestamp with time zone) ELSE CAST(%s AS timestamp with time zone) END")


def still_reserved_sql(task: str) -> str:
    """`still_reserved` of a task row (table alias `task`), in SQL (PostgreSQL), never less than
    it: the estimate's share of each result not yet charged is rounded up, and one quantum more,
    as the Decimal division above may round up by as much."""
    estimate, cost = f"{task}.{_column('estimated_cost')}", f"{task}.{_column('cost')}"
    results, received = f"{task}.{_column('number_results')}", f"{task}.{_column('results_received')}"
    scale = 10 ** -SHARE_QUANTUM.as_tuple().exponent
    share = (f"CEIL({estimate} * GREATEST({results} - {received}, 0) * {scale} / GREATEST({results}, 1)) / {scale} "
             f"+ {SHARE_QUANTUM:f}")
    return f"GREATEST({estimate} - {cost}, {share}, 0)"


def reserving_sql(task: str) -> str:
    """Whether a task row (table alias `task`) still reserves part of a budget, in SQL (`reserved`'s filter)."""
    statuses = ", ".join(f"'{status}'" for status in (Task.Status.QUEUED, Task.Status.RUNNING, Task.Status.CANCELLED))
    return f"{task}.{_column('status')} IN ({statuses}) AND {task}.{_column('finished_at')} IS NULL"


def committed_sql(period: str, *, charges: str, tasks: str) -> str:
    """What a budget has committed in its period, in SQL (PostgreSQL): `BudgetUse.committed`, the
    ledger's exact sum since the period began and what running tasks still reserve (never less than
    `still_reserved` reckons). `period` names the budget's period (an SQL expression; its values are
    `period_start_sql`'s). `charges` and `tasks` say whose: what follows the ledger's table (alias
    `budget_charge`) and the tasks' (alias `budget_task`) in each sum's FROM, joins and a WHERE."""
    amount = connection.ops.quote_name(Charge._meta.get_field("amount").column)
    created = connection.ops.quote_name(Charge._meta.get_field("created_at").column)
    spent = (
        f"(SELECT COALESCE(SUM(budget_charge.{amount}), 0) FROM {connection.ops.quote_name(Charge._meta.db_table)} "
        f"budget_charge {charges} AND budget_charge.{created} >= {period_start_sql(period)})"
    )
    running = (
        f"(SELECT COALESCE(SUM({still_reserved_sql('budget_task')}), 0) FROM "
        f"{connection.ops.quote_name(Task._meta.db_table)} budget_task {tasks} AND {reserving_sql('budget_task')})"
    )
    return f"({spent} + {running})"


def _column(field: str) -> str:
    return connection.ops.quote_name(Task._meta.get_field(field).column)


def user_budget(user: User) -> Decimal | None:
    return user.monthly_budget if user.monthly_budget is not None else settings.DEFAULT_USER_BUDGET


@dataclass
class BudgetUse:
    """How much of a budget is spent in its period, reserved by running tasks, and what remains."""

    budget: Decimal | None
    spent: Decimal
    running: Decimal = ZERO
    period: str = "month"

    @property
    def adjective(self) -> str:
        """"daily", "weekly" or "monthly", as in "your weekly budget"."""
        return PERIOD_ADJECTIVES.get(self.period, "monthly")

    @property
    def span(self) -> str:
        """"today", "this week" or "this month", as in "spent this week"."""
        return PERIOD_SPANS.get(self.period, "this month")

    @property
    def committed(self) -> Decimal:
        return self.spent + self.running

    @property
    def remaining(self) -> Decimal | None:
        if self.budget is None:
            return None
        return max(self.budget - self.committed, ZERO)

    @property
    def percent(self) -> int | None:
        """Share of the budget used (spent + running), 0–100, for a bar."""
        if self.budget is None:
            return None
        if self.budget <= 0:
            return 100
        return min(100, int(self.committed * 100 / self.budget))

    @property
    def level(self) -> str:
        percent = self.percent
        if percent is None:
            return "none"
        return "over" if percent >= 100 else "high" if percent >= 80 else "ok"


def member_budget_use(user: User) -> BudgetUse:
    return BudgetUse(
        budget=user_budget(user),
        spent=total(Charge.objects.filter(user=user, created_at__gte=period_start(user.budget_period))),
        running=reserved(Task.objects.filter(user=user)),
        period=user.budget_period,
    )


def team_budget_use(team: Team) -> BudgetUse:
    return BudgetUse(
        budget=team.monthly_budget,
        spent=total(Charge.objects.filter(team=team, created_at__gte=period_start(team.budget_period))),
        running=reserved(Task.objects.filter(team=team)),
        period=team.budget_period,
    )


# ---------------------------------------------------------------------- the staff dashboard


@dataclass
class MemberLine:
    user: User
    period_total: Decimal
    count: int
    use: BudgetUse


@dataclass
class TeamLine:
    team: Team | None
    period_total: Decimal
    count: int
    use: BudgetUse | None
    members: int = 0


@dataclass
class Dashboard:
    period: Period
    total: Decimal
    count: int
    members: list[MemberLine]
    teams: list[TeamLine]
    models: list[Group]
    kinds: list[Group]
    daily: list[Group]
    newest: list[Charge] = field(default_factory=list)


NEWEST = 25


def dashboard(period: Period) -> Dashboard:
    charges = charges_in(period)
    # What each member and team spent in their own budget period (a day, a week or a month).
    since = {kind: Charge.objects.filter(created_at__gte=period_start(kind)) for kind in PERIOD_ADJECTIVES}

    per_user = grouped(charges, "user_id")
    spent_per_user = _spent_in_periods(since, "user_id", User.objects.order_by().values_list("budget_period", flat=True).distinct())
    running_per_user = _running_by("user_id")
    users = User.objects.select_related("team").filter(Q(is_active=True) | Q(pk__in=per_user.keys()))
    members = [
        MemberLine(
            user=user,
            period_total=per_user.get(user.pk, Group(user.pk)).total,
            count=per_user.get(user.pk, Group(user.pk)).count,
            use=BudgetUse(
                budget=user_budget(user),
                spent=spent_per_user[user.budget_period].get(user.pk, Group(user.pk)).total,
                running=running_per_user.get(user.pk, ZERO),
                period=user.budget_period,
            ),
        )
        for user in users
    ]
    members.sort(key=lambda line: (-line.period_total, -line.use.spent, line.user.username.lower()))

    per_team = grouped(charges, "team_id")
    spent_per_team = _spent_in_periods(since, "team_id", Team.objects.order_by().values_list("budget_period", flat=True).distinct())
    running_per_team = _running_by("team_id")
    member_counts = dict(User.objects.filter(team__isnull=False).values("team_id").annotate(n=Count("id"))
                         .values_list("team_id", "n"))
    teams = [
        TeamLine(
            team=team,
            period_total=per_team.get(team.pk, Group(team.pk)).total,
            count=per_team.get(team.pk, Group(team.pk)).count,
            use=BudgetUse(
                budget=team.monthly_budget,
                spent=spent_per_team[team.budget_period].get(team.pk, Group(team.pk)).total,
                running=running_per_team.get(team.pk, ZERO),
                period=team.budget_period,
            ),
            members=member_counts.get(team.pk, 0),
        )
        for team in Team.objects.all()
    ]
    teams.sort(key=lambda line: (-line.period_total, line.team.name.lower()))
    if None in per_team:
        teams.append(TeamLine(team=None, period_total=per_team[None].total, count=per_team[None].count, use=None))

    kinds = sorted_groups(grouped(charges, "task_type"))
    for group in kinds:
        group.label = kind_label(group.key)
    return Dashboard(
        period=period,
        total=sum((group.total for group in per_user.values()), ZERO),
        count=sum(group.count for group in per_user.values()),
        members=members,
        teams=teams,
        models=sorted_groups(grouped(charges, "model")),
        kinds=kinds,
        daily=by_day(charges, period.days),
        newest=list(newest_charges()),
    )


def _spent_in_periods(since: dict[str, QuerySet[Charge]], key: str, kinds: Iterable[str]) -> dict[str, dict[Any, Group]]:
    """Totals by `key` since the start of each kind of period in use (one query per kind used)."""
    used = set(kinds)
    return {kind: grouped(charges, key) if kind in used else {} for kind, charges in since.items()}


def newest_charges(limit: int = NEWEST) -> QuerySet[Charge]:
    return Charge.objects.select_related("user", "team").order_by("-created_at", "-id")[:limit]


def _running_by(key: str) -> dict[Any, Decimal]:
    rows = Task.objects.filter(
        Q(status__in=[Task.Status.QUEUED, Task.Status.RUNNING]) | Q(status=Task.Status.CANCELLED),
        finished_at__isnull=True,
    ).values_list(key, *RESERVING)
    running: dict[Any, Decimal] = defaultdict(lambda: ZERO)
    for owner, *reserving in rows:
        running[owner] += still_reserved(*reserving)
    return running


# ---------------------------------------------------------------------- a member's own usage


@dataclass
class Usage:
    period: Period
    total: Decimal
    count: int
    daily: list[Group]
    kinds: list[Group]
    own: BudgetUse
    team: Team | None
    team_use: BudgetUse | None


def member_usage(user: User) -> Usage:
    period = month_period()
    charges = charges_in(period).filter(user=user)
    kinds = sorted_groups(grouped(charges, "task_type"))
    for group in kinds:
        group.label = kind_label(group.key)
    team = Team.objects.filter(pk=user.team_id).first() if user.team_id else None
    return Usage(
        period=period,
        total=sum((group.total for group in kinds), ZERO),
        count=sum(group.count for group in kinds),
        daily=by_day(charges, period.days),
        kinds=kinds,
        own=member_budget_use(user),
        team=team,
        team_use=team_budget_use(team) if team else None,
    )
