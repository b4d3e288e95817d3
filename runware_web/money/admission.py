"""Budget and rate-limit admission. Called inside the transaction that creates the Task row.

Atomic under concurrency: on PostgreSQL the member's and team's rows are locked (`SELECT … FOR
UPDATE`, always user first, then team) so two admissions for the same budget queue up, and each
reads what the previous one committed; on SQLite every transaction is IMMEDIATE (see settings),
which serialises writers the same way. The Task row written in the same transaction carries the
estimate, so the next admission counts it as reserved until its real cost arrives.

Every task of every feature (studio, tools, chat, video, the endpoint) is admitted here, so this
is also where a team's model rules hold: its allow-list of models and families, and its cap on
one task's estimate. A refused task is never written, so nothing is sent and nothing billed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Min
from django.utils import timezone

from runware_web.accounts.models import Role, Team, User
from runware_web.lib import sql
from runware_web.lib.money import ZERO, usd
from runware_web.money import reports
from runware_web.money.models import Charge
from runware_web.money.reports import BudgetUse
from runware_web.upstream.errors import Refused
from runware_web.upstream.models import Task


def admit_many(
    *, user: User, estimates: list[Decimal], member: Member | None = None, models: list[str] | None = None,
) -> list[Refused | None]:
    """Admit several tasks of one member in order, as if one after the other: each admitted task
    reserves its estimate before the next is weighed. Returns None for each admitted task and the
    Refused for each refused one. Must run inside the transaction that creates the admitted tasks.

    `member` is what `lock_members` read, when the caller admits several members at once; without
    it, it is read here. `models` are the tasks' models (AIRs), for the team's model rules.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("admission must run inside the transaction that creates the tasks")
    member = member or lock_members([user.pk])[user.pk]
    recent = member.recent
    own, shared = BudgetUse(budget=None, spent=ZERO), None
    # Without a budget there is nothing to sum: an uncapped member's admission reads no ledger.
    if member.capped or settings.DEFAULT_USER_BUDGET is not None:
        own = reports.member_budget_use(User.objects.only("monthly_budget", "budget_period").get(pk=user.pk))
    if member.team is not None:
        shared = reports.team_budget_use(member.team)
    outcomes: list[Refused | None] = []
    for estimate, model in zip(estimates, models or [""] * len(estimates), strict=True):
        refused = (
            _rule_refusal(member.rules, model, estimate) or _rate_refusal(recent)
            or _budget_refusal(own, shared, member.team, estimate)
        )
        outcomes.append(refused)
        if refused is None:
            recent.count += 1
            own.running += estimate
            if shared is not None:
                shared.running += estimate
    return outcomes


@dataclass
class Member:
    """What admission must know of a member first, with their row locked."""

    capped: bool  # a budget of their own
    team: Team | None  # their team, locked, when it has a budget
    recent: RecentTasks  # for the rate limit
    rules: Team | None = None  # their team, when it has model rules
    team_id: int | None = None  # their team as their row says now (the task's own team)


def lock_members(user_ids: list[int], *, then: Callable[[], None] | None = None) -> dict[int, Member]:
    """Lock members' rows, then the rows of their teams that have a budget, each in id order: the
    one order every admission follows (a member before their team), so that transactions
    admitting several members at once (the runner's group commits, on several workers) never wait
    in a cycle. Read afresh: an administrator may have changed a budget or a team meanwhile.

    The members are read by hand, in one statement for all of them, with how many tasks each
    started in the last minute: it runs for every task, and what it reads needs no conversion.
    Budgets themselves are read through the ORM, for those who have one.

    `then()` is called once the lock is sent, before its rows are read: in a pipelined transaction
    (lib.sql.pipelined_transaction), the reads it sends go with the lock, and see what the lock's
    last holder committed.
    """
    since = timezone.now() - timedelta(minutes=1)
    counting = bool(settings.RATE_LIMIT_PER_MINUTE)
    params: list[Any] = [sql.value(Task, "created_at", since)] if counting else []
    statement = _lock_statement(len(user_ids), counting=counting)
    sent = sql.send_rows(statement, [*params, *sorted(user_ids)])
    if then is not None:
        then()
    rows = sent()
    capped_teams = sorted({row[1] for row in rows if row[3]})
    locked = Team.objects.select_for_update().filter(pk__in=capped_teams).order_by("pk") if capped_teams else []
    teams_by_id = {locked_team.pk: locked_team for locked_team in locked}
    ruled = sorted({row[1] for row in rows if row[5] and row[1] not in teams_by_id})
    if ruled:  # rules are read, not locked: no admission changes them
        teams_by_id.update((ruled_team.pk, ruled_team) for ruled_team in Team.objects.filter(pk__in=ruled))
    return {
        user_id: Member(
            capped=bool(capped), team=teams_by_id.get(team_id) if team_capped else None,
            recent=RecentTasks(user_id=user_id, since=since, count=count),
            rules=teams_by_id.get(team_id) if has_team_rules else None, team_id=team_id,
        )
        for user_id, team_id, capped, team_capped, count, has_team_rules in rows
    }


def quick_lock(user_ids: list[int]) -> list[tuple[str, list[Any]]]:
    """The statements locking members, then their teams that have a budget, as lock_members locks
    them (the same order), for a message that weighs their tasks in SQL (quick_condition)."""
    members = [sql.value(User, "pk", user_id) for user_id in sorted(set(user_ids))]
    return [(sql.built(("quick lock", kind, len(members)), partial(_quick_lock_statement, kind, len(members))), members)
            for kind in ("members", "teams")]


def _quick_lock_statement(kind: str, count: int) -> str:
    """quick_lock's statements' text (its members', then their teams'), for `count` members."""
    user, team, lock = sql.table(User), sql.table(Team), sql.placeholders(count)
    if kind == "members":
        return f"SELECT 1 FROM {user} WHERE {sql.column(User)} IN ({lock}) ORDER BY {sql.column(User)} FOR UPDATE"
    return (f"SELECT 1 FROM {team} WHERE {sql.column(Team)} IN (SELECT {sql.column(User, 'team')} FROM {user} "
            f"WHERE {sql.column(User)} IN ({lock})) AND {sql.column(Team, 'monthly_budget')} IS NOT NULL "
            f"ORDER BY {sql.column(Team)} FOR UPDATE")


def quick_condition(user_id: int, estimate: Decimal, model: str) -> tuple[str, list[Any]]:
    """An SQL condition that holds only if `admit_many` would admit this task of the member now,
    with its values: for a message that writes the task only if it holds (runner.quick), sent once
    the member (and their team, if it has a budget) is locked (quick_lock), after the tasks the
    message wrote before it, which it counts as reserving their estimates.

    The same checks as admit_many's, read afresh: the team's model rules (its allow-list and its
    cap on one task), the member's rate limit, and the member's and the team's budgets for their
    periods (the ledger's exact sums, and what running tasks still reserve, reckoned never less
    than `reports.still_reserved` does). PostgreSQL only. Its text is built once; it runs for every
    task a script starts.

    Sound, not complete: a task it does not admit is weighed the full way, which admits or refuses
    it with its reasons (a budget it would meet to the last quantum, an allow-list written with
    unusual separators)."""
    limit = settings.RATE_LIMIT_PER_MINUTE
    default, starts = settings.DEFAULT_USER_BUDGET, reports.period_starts()
    params: list[Any] = [user_id, default, *starts, estimate, default, *starts, estimate, estimate,
                         _allowing_entries(model)]
    if limit:
        params += [timezone.now() - timedelta(minutes=1), limit]
    return sql.built(("quick member", bool(limit)), partial(_quick_member_condition, counting=bool(limit))), params


def _quick_member_condition(*, counting: bool) -> str:
    """quick_condition's text (its values in the order it gives them)."""
    member, team = "quick_member", "quick_team"
    budget = f"COALESCE({member}.{sql.column(User, 'monthly_budget')}, %s)"
    team_budget = f"{team}.{sql.column(Team, 'monthly_budget')}"
    cap = f"{team}.{sql.column(Team, 'max_task_cost')}"
    allowed = f"{team}.{sql.column(Team, 'allowed_models')}"
    condition = (
        f"EXISTS (SELECT 1 FROM {sql.table(User)} {member} LEFT JOIN {sql.table(Team)} {team} "
        f"ON {team}.{sql.column(Team)} = {member}.{sql.column(User, 'team')} "
        f"WHERE {member}.{sql.column(User)} = %s "
        f"AND ({budget} IS NULL OR {_committed_sql(member, User, 'user')} + %s <= {budget}) "
        f"AND ({team}.{sql.column(Team)} IS NULL OR (({team_budget} IS NULL "
        f"OR {_committed_sql(team, Team, 'team')} + %s <= {team_budget}) "
        f"AND ({cap} IS NULL OR %s <= {cap}) "
        f"AND ({allowed} = '' OR EXISTS (SELECT 1 FROM regexp_split_to_table({allowed}, '[,\\r\\n]') quick_entry "
        f"WHERE lower(regexp_replace(quick_entry, '^\\s+|\\s+$', '', 'g')) = ANY(%s)))))"
    )
    if counting:
        started = "quick_started"
        condition += (
            f" AND (SELECT COUNT(*) FROM {sql.table(Task)} {started} WHERE {started}.{sql.column(Task, 'user')} = "
            f"{member}.{sql.column(User)} AND {started}.{sql.column(Task, 'created_at')} >= %s) < %s"
        )
    return condition + ")"


def _committed_sql(owner: str, model: type[User] | type[Team], field: str) -> str:
    """What a member's or team's budget has committed in its period (`reports.committed_sql`).
    `owner` is the table alias of their row, whose `budget_period` picks the period; its values
    are `reports.period_starts()`."""
    return reports.committed_sql(
        f"{owner}.{sql.column(model, 'budget_period')}",
        charges=f"WHERE budget_charge.{sql.column(Charge, field)} = {owner}.{sql.column(model)}",
        tasks=f"WHERE budget_task.{sql.column(Task, field)} = {owner}.{sql.column(model)}",
    )


def _allowing_entries(model: str) -> list[str]:
    """Every allow-list entry that lets members use `model` (`accounts.models.rule_allows`): the
    AIR itself, each family it belongs to ("runware:", "runware:101@"), its bare source ("runware")."""
    model = model.lower()
    entries = {model}
    for end, character in enumerate(model):
        if character in ":@":
            entries.add(model[:end + 1])
        if character == ":" and ":" not in model[:end]:
            entries.add(model[:end])
    return sorted(entries)


def _lock_statement(members: int, *, counting: bool) -> str:
    """lock_members' statement for so many members, with or without their count of recent tasks
    (its one parameter before the members' ids)."""

    def build() -> str:
        recent = "0"
        if counting:
            recent = (
                f"(SELECT COUNT(*) FROM {sql.table(Task)} started WHERE started.{sql.column(Task, 'user')} = "
                f"member.{sql.column(User)} AND started.{sql.column(Task, 'created_at')} >= %s)"
            )
        team, budget = sql.column(User, "team"), sql.column(User, "monthly_budget")
        lock = " FOR UPDATE OF member" if connection.features.has_select_for_update_of else ""
        has_rules = (
            f"(team.{sql.column(Team, 'allowed_models')} <> '' OR team.{sql.column(Team, 'max_task_cost')} IS NOT NULL)"
        )
        return (
            f"SELECT member.{sql.column(User)}, member.{team}, member.{budget} IS NOT NULL, "
            f"team.{sql.column(Team, 'monthly_budget')} IS NOT NULL, {recent}, {has_rules} "
            f"FROM {sql.table(User)} member "
            f"LEFT JOIN {sql.table(Team)} team ON team.{sql.column(Team)} = member.{team} "
            f"WHERE member.{sql.column(User)} IN ({sql.placeholders(members)}) "
            f"ORDER BY member.{sql.column(User)}{lock}"
        )

    return sql.built(("lock members", members, counting), build)


def _rule_refusal(team: Team | None, model: str, estimate: Decimal) -> Refused | None:
    """The team's model rules: the model must be on its allow-list (by AIR or family), and the
    task's estimate within its cap. The message names the rule and who may change it."""
    if team is None:
        return None
    if not team.allows_model(model):
        allowed = ", ".join(team.allowed_model_list)
        return Refused(
            f"Your team's rules allow only {allowed}, and {model} is not one of them. Pick one of those, "
            f"or ask {_who_changes_rules(team)} to change the rules.",
            field="model", code="rule",
        )
    if team.max_task_cost is not None and estimate > team.max_task_cost:
        return Refused(
            f"Your team's rules cap one task at {usd(team.max_task_cost)}, and this one is estimated at "
            f"{usd(estimate)}. Try fewer or smaller results, or ask {_who_changes_rules(team)} to change "
            "the rules.",
            code="rule",
        )
    return None


def _who_changes_rules(team: Team) -> str:
    """"a team admin (alice, bob)", or staff when the team has no admin: named, so the member knows whom to ask."""
    admins = list(User.objects.filter(team=team, role=Role.TEAM_ADMIN, is_active=True)
                  .order_by("username").values_list("username", flat=True)[:5])
    return f"a team admin ({', '.join(admins)})" if admins else "an administrator"


def _budget_refusal(own: BudgetUse, shared: BudgetUse | None, team: Team | None, estimate: Decimal) -> Refused | None:
    if own.budget is not None and own.committed + estimate > own.budget:
        return Refused(
            f"This would go over your {own.adjective} budget of {usd(own.budget)}: {usd(own.remaining)} remains "
            f"and this task is estimated at {usd(estimate)}. Try fewer or smaller results, or ask an "
            "administrator to raise your budget."
        )
    if team is not None and shared is not None and shared.budget is not None and (
        shared.committed + estimate > shared.budget
    ):
        return Refused(
            f"This would go over team {team.name}'s {shared.adjective} budget of {usd(shared.budget)}: "
            f"{usd(shared.remaining)} remains and this task is estimated at {usd(estimate)}. "
            "Try fewer or smaller results, or ask an administrator to raise the team's budget."
        )
    return None


@dataclass
class RecentTasks:
    """How many tasks the member started in the last minute (zero when there is no limit)."""

    user_id: int
    since: datetime
    count: int

    def oldest(self) -> datetime | None:
        """When the oldest of them started (read only to tell a refused member how long to wait)."""
        tasks = Task.objects.filter(user_id=self.user_id, created_at__gte=self.since)
        return tasks.aggregate(oldest=Min("created_at"))["oldest"]


def _rate_refusal(recent: RecentTasks) -> Refused | None:
    limit = settings.RATE_LIMIT_PER_MINUTE
    if not limit or recent.count < limit:
        return None
    oldest = recent.oldest()
    wait = max(1, int((oldest + timedelta(minutes=1) - timezone.now()).total_seconds()) + 1) if oldest else 60
    return Refused(
        f"You have started {recent.count} tasks in the last minute; the limit is {limit} a minute. "
        f"Try again in {wait} seconds.",
        code="rateLimit",
    )
