"""The one-message admission: a script's tasks admitted and written by one message to PostgreSQL,
sent from the event loop.

Every task a script starts waits for its admission before it is sent upstream; the full admission
(admit.py, in the admissions' thread) waits on two round trips to the database and on two
hand-offs between the loop and its thread. A task whose feature says how its own checks read in
SQL (a `Quick`: the endpoint's, for its key) is first offered here: one message that locks its
member (and their team, if it has a budget), then writes the task's row, and the feature's, only
if a condition holds that says, in SQL, that the full admission would admit it (the member's and
the team's rules and limits: money.admission.quick_condition; the feature's: `Quick.condition`),
then commits. Conditions are read after the lock, so they see what its last holder committed, and
after the rows the same message wrote before, which they count.

The conditions are sound, not complete: a task they do not admit (a budget met to within a few
quanta, an allow-list of separators only, a key over its limit, a reused taskUUID, a price not in
memory yet…) is weighed the full way, in the thread, which admits or refuses it with its reasons.
Nothing but the full way's outcome is ever told to a caller as a refusal.

PostgreSQL only (lib.loop_database); elsewhere every task is weighed the full way.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from channels.db import database_sync_to_async
from django.db import DEFAULT_DB_ALIAS, connection
from django.db.models import Model
from django.utils import timezone

from runware_web.accounts.models import User
from runware_web.lib import sql
from runware_web.lib.loop_database import LoopDatabase, outcome_known
from runware_web.lib.reconnect import reconnecting
from runware_web.money.admission import quick_condition, quick_lock
from runware_web.money.prices import NotLearned, PriceMemory
from runware_web.runner.admit import new_task
from runware_web.runner.batching import Writer
from runware_web.upstream.models import Task

log = logging.getLogger(__name__)

MAX_TRIP = 50  # tasks a message: each is a statement of its own
#: After a message failed for want of the database, how long tasks are weighed the full way only
#: (which copes with outages: lib.reconnect) before the event loop's connection is tried again.
REST_SECONDS = 5.0


@dataclass
class Quick:
    """A feature's part in the one-message admission: its own checks as an SQL condition on the task
    (with its values), and its rows of the task (written with it, as `record_with` writes them)."""

    condition: Callable[[Task], tuple[str, list[Any]]]
    rows: Callable[[Task], list[Model]]


class QuickAdmissions(Writer):
    """`await admit(request)`: the task admitted and written in one message, or None (weigh it the
    full way). Tasks offered while a message is out go together in the next. One per event loop."""

    def __init__(self, prices: PriceMemory) -> None:
        self.prices = prices  # the full admission's own: what either learns, both use
        self.database = LoopDatabase()
        self.pending: list[tuple[dict[str, Any], asyncio.Future[Task | None]]] = []
        self.writer: asyncio.Task[None] | None = None
        self.resting_until = 0.0

    def takes(self, request: dict[str, Any]) -> bool:
        return (request.get("quick") is not None and connection.vendor == "postgresql"
                and time.monotonic() >= self.resting_until)

    async def admit(self, request: dict[str, Any]) -> Task | None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Task | None] = loop.create_future()
        self.pending.append((request, future))
        if self.writer is None:
            # Its own task, which no caller's cancellation reaches: a message half sent is not left unread.
            self.writer = loop.create_task(self._write(), context=contextvars.Context())
        return await future

    async def close(self) -> None:
        if self.writer is not None:
            await asyncio.shield(self.writer)
        await self.database.close()

    async def _write(self) -> None:
        trip: list[tuple[dict[str, Any], asyncio.Future[Task | None]]] = []
        try:
            while self.pending:
                trip, self.pending = self.pending[:MAX_TRIP], self.pending[MAX_TRIP:]
                outcomes: list[Task | Exception | None]
                try:
                    outcomes = await self._trip([request for request, _ in trip])
                except Exception:
                    log.warning("The one-message admission failed; its tasks are weighed the full way.", exc_info=True)
                    outcomes = [None] * len(trip)
                for (_, future), outcome in zip(trip, outcomes, strict=True):
                    if future.done():
                        continue
                    if isinstance(outcome, Exception):
                        future.set_exception(outcome)
                    else:
                        future.set_result(outcome)
        finally:
            self.writer = None
            for _, future in trip + self.pending:  # the loop is closing (those settled are left as they are)
                future.cancel()
            self.pending = []

    async def _trip(self, requests: list[dict[str, Any]]) -> list[Task | Exception | None]:
        """Each request's task admitted and written, or None (weigh it the full way), or the error
        its caller raises: when the message's connection failed and whether it was committed could
        not be found out, the task may have been written, and weighed again it could be twice."""
        now = timezone.now()
        learned = self.prices.lately()  # never read here: what the full way learned lately
        written: list[tuple[int, Task, list[Model]]] = []  # each offered task: its request's place, its rows
        statements: list[tuple[str, list[Any]]] = []
        for index, request in enumerate(requests):
            try:
                task = new_task(request, learned, now, team_id=None, read_recent=False)
            except NotLearned:
                continue  # the full way reads what recent tasks cost (and this memory learns it)
            member = quick_condition(request["user"].pk, task.estimated_cost, task.model)
            rows = request["quick"].rows(task)
            statements.append(_statement(task, rows, member, request["quick"].condition(task)))
            written.append((index, task, rows))
        outcomes: list[Task | Exception | None] = [None] * len(requests)
        if not written:
            return outcomes
        lock = quick_lock([task.user_id for _, task, _ in written])
        try:
            found = await self.database.send([("BEGIN", []), *lock, *statements, ("COMMIT", [])])
            teams = [rows[0][0] if rows else NOT_WRITTEN for rows in found[1 + len(lock):-1]]
        except Exception as error:
            self.resting_until = time.monotonic() + REST_SECONDS
            if outcome_known(error):
                log.warning("PostgreSQL refused the one-message admission; its tasks are weighed the full way.",
                            exc_info=True)
                return outcomes
            log.warning("The one-message admission's connection failed; asking which of its tasks were written.",
                        exc_info=True)
            try:
                teams = await self._written([task.pk for _, task, _ in written])
            except Exception as unknown:
                log.exception("Could not tell whether the one-message admission wrote its tasks; they are not started.")
                for index, _, _ in written:
                    outcomes[index] = unknown
                return outcomes
        for (index, task, rows), team in zip(written, teams, strict=True):
            if team is NOT_WRITTEN:
                continue
            task.team_id = team
            for row in (task, *rows):
                row._state.adding, row._state.db = False, DEFAULT_DB_ALIAS
            outcomes[index] = task
        return outcomes

    async def _written(self, task_ids: list[uuid.UUID]) -> list[Any]:
        """Each task's team if it was written (NOT_WRITTEN if not), asked through Django's own
        connections, on a new one should the first be gone too (lib.reconnect)."""

        @reconnecting
        def written() -> list[Any]:
            teams = dict(Task.objects.filter(pk__in=task_ids).values_list("pk", "team_id"))
            return [teams.get(task_id, NOT_WRITTEN) for task_id in task_ids]

        return await database_sync_to_async(written, thread_sensitive=False)()


def _statement(task: Task, rows: list[Model], member: tuple[str, list[Any]],
               feature: tuple[str, list[Any]]) -> tuple[str, list[Any]]:
    """One task's statement: its row written if both conditions hold, then the feature's rows for
    each task row written; it returns the task's team (one row) if it was written, nothing if not."""
    insert, params = sql.insert_select(
        task, where=f"{member[0]} AND {feature[0]}", where_params=[*member[1], *feature[1]],
        computed={"team": (sql.built(("quick team",), _members_team), [sql.value(User, "pk", task.user_id)])},
    )
    inserts = [insert]
    for row in rows:
        row_insert, row_params = sql.insert_select(row, source="quick_task")
        inserts.append(row_insert)
        params += row_params
    return sql.built(("quick statement", *inserts), partial(_statement_text, inserts)), params


def _members_team() -> str:
    """The task's team: the member's, as the database has it when it writes the row."""
    return f"(SELECT {sql.column(User, 'team')} FROM {sql.table(User)} WHERE {sql.column(User)} = %s)"


def _statement_text(inserts: list[str]) -> str:
    """_statement's text, built once for each shape: the task's insert, then each of its rows'."""
    team = sql.column(Task, "team")
    parts = [f"quick_task AS ({inserts[0]} RETURNING {team})"]
    parts += [f"quick_row_{number} AS ({insert} RETURNING 1)" for number, insert in enumerate(inserts[1:])]
    return f"WITH {', '.join(parts)} SELECT {team} FROM quick_task"


NOT_WRITTEN = object()  # a task the message did not write (its team, when it did, may be None)
