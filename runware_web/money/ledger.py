"""Writing the ledger. Every cost Runware reports becomes exactly one Charge row.

The runner calls `record_charges` for the outputs of its tasks, then tells the staff spend page
(group STAFF_SPEND_GROUP, "spend.changed"), once per member per batch. Once they are committed,
`money.alerts` looks whether they took a member's or a team's spend past an alert threshold.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from runware_web.lib import sql
from runware_web.money import alerts
from runware_web.money.models import Charge
from runware_web.upstream.models import Task


def record_charges(items: list[tuple[Task, str, Decimal | None]]) -> list[bool]:
    """Outputs arrived: count each one and put its cost in the ledger, once per output.

    Returns, for each, whether it carried a charge. Runs inside the transaction of one of the
    runner's group commits (runner.batching): a trip carries every output that was waiting. The
    runner passes each output once (it knows which it has seen, also after adopting a task); should
    two workers ever record the same output, the ledger's unique constraint keeps one row, and
    each task's cost is recomputed from its rows in the statement that counts its outputs
    (TaskQuerySet.count_results).
    """
    given: dict[uuid.UUID, dict[int, Task]] = {}  # the Task objects given, by task
    received: dict[uuid.UUID, int] = {}
    charged: list[tuple[Task, str, Decimal]] = []
    for task, key, cost in items:
        given.setdefault(task.pk, {})[id(task)] = task
        received[task.pk] = received.get(task.pk, 0) + 1
        if cost is not None:
            charged.append((task, key[:100], cost))
    _insert_charges(charged)
    Task.objects.count_results(received)

    def follow() -> None:
        """The Task objects given follow, so that the runner's handlers see the counts without
        reading them: once committed (a group commit may roll a trip back and write it again)."""
        for task, _, cost in charged:
            for copy in given[task.pk].values():
                copy.cost += cost
        for task_id, count in received.items():
            for task in given[task_id].values():
                task.results_received += count

    transaction.on_commit(follow)
    if charged:
        members, teams = {task.user_id for task, _, _ in charged}, {task.team_id for task, _, _ in charged}

        def check_budget_alerts() -> None:
            """Once the charges are in: never inside this transaction, and never failing it (robust)."""
            alerts.after_charges(members, teams)

        transaction.on_commit(check_budget_alerts, robust=True)
    return [cost is not None for _, _, cost in items]


# The statement below runs for every batch of outputs: written by hand (see runware_web.lib.sql).

_CHARGE_COLUMNS = ("task", "user", "team", "task_type", "model", "result_key", "amount", "created_at")


def _insert_charges(charged: list[tuple[Task, str, Decimal]]) -> None:
    """Add ledger rows, skipping any output already charged (the unique constraint's conflict)."""
    if not charged:
        return
    now = timezone.now()
    columns = ", ".join(sql.column(Charge, name) for name in _CHARGE_COLUMNS)
    row = f"({sql.placeholders(len(_CHARGE_COLUMNS))})"
    rows = ", ".join([row] * len(charged))
    statement = f"INSERT INTO {sql.table(Charge)} ({columns}) VALUES {rows} ON CONFLICT DO NOTHING"
    values = [(task.pk, task.user_id, task.team_id, task.task_type, task.model, key, cost, now)
              for task, key, cost in charged]
    params = [sql.value(Charge, name, value)
              for row_values in values for name, value in zip(_CHARGE_COLUMNS, row_values, strict=True)]
    with connection.cursor() as cursor:
        cursor.execute(statement, params)

