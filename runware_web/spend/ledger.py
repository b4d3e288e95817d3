"""Writing the ledger. Every cost Runware reports becomes exactly one Charge row.

The runner calls `record_charges` for the outputs of its tasks, then tells the staff spend page
(group STAFF_SPEND_GROUP, "spend.changed"), once per member per batch.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.db import connection

from runware_web.spend.models import Charge
from runware_web.upstream.models import Task


def record_charges(items: list[tuple[Task, str, Decimal | None]]) -> list[bool]:
    """Outputs arrived: count each one and put its cost in the ledger, once per output.

    Returns, for each, whether a new charge was recorded. Runs inside the transaction of one of
    the runner's group commits (upstream.batching): a trip carries every output that was waiting.
    """
    tasks = {task.pk: task for task, _, _ in items}
    ledger: dict[uuid.UUID, dict[str, Decimal]] = {task_id: {} for task_id in tasks}
    existing = Charge.objects.filter(task__in=tasks).order_by().values_list("task", "result_key", "amount")
    for task_id, key, amount in existing:
        ledger[task_id][key] = amount
    received: dict[uuid.UUID, int] = dict.fromkeys(tasks, 0)
    new: list[Charge] = []
    outcomes: list[bool] = []
    for task, key, cost in items:
        key = key[:100]
        charged = cost is not None and key not in ledger[task.pk]
        if charged:
            ledger[task.pk][key] = cost
            new.append(Charge(
                task=task, user_id=task.user_id, team_id=task.team_id, task_type=task.task_type,
                model=task.model, result_key=key, amount=cost,
            ))
        if charged or cost is None:
            received[task.pk] += 1
        outcomes.append(charged)
    # Another worker adopting a task could race to the same output; the unique constraint keeps
    # the ledger right whichever wins.
    Charge.objects.bulk_create(new, ignore_conflicts=True)
    _count_results([
        (count, sum(ledger[task_id].values(), Decimal(0)), task_id) for task_id, count in received.items() if count
    ])
    return outcomes


def _count_results(rows: list[tuple[int, Decimal, uuid.UUID]]) -> None:
    """Add to tasks' result counts and set their costs: one statement for the batch.

    The ORM would compile one UPDATE per task (most of a batch's time); the statement is simple
    enough to write once, with values prepared by the fields themselves.
    """
    if not rows:
        return
    quote = connection.ops.quote_name
    meta = Task._meta
    received, cost, pk = (meta.get_field(name) for name in ("results_received", "cost", "id"))
    sql = (
        f"UPDATE {quote(meta.db_table)} SET {quote(received.column)} = {quote(received.column)} + %s, "
        f"{quote(cost.column)} = %s WHERE {quote(pk.column)} = %s"
    )
    with connection.cursor() as cursor:
        cursor.executemany(sql, [
            (count, cost.get_db_prep_save(amount, connection),
             pk.get_db_prep_value(task_id, connection))
            for count, amount, task_id in rows
        ])
