"""The admission write: admit submitted tasks against the budgets and write their Task rows.

Runs in the database thread, inside one of the runner's group commits (see batching): the tasks
submitted while the database was busy are admitted together, in submission order, in one
transaction. Money's `admit_many` decides; this module only brings the requests to it and writes
the rows of those it admits.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from runware_web.lib import sql
from runware_web.money.admission import admit_many, lock_members
from runware_web.money.prices import Learned, PriceMemory, estimate
from runware_web.upstream.models import Task


def admit_and_create(**request: Any) -> Task:
    """Admit and record one task, in a transaction of its own (raises Refused).

    See admit_and_create_many."""
    with transaction.atomic():
        outcome = admit_and_create_many([request])[0]
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


def admit_and_create_many(
    requests: list[dict[str, Any]], *, prices: PriceMemory | None = None
) -> list[Task | Exception]:
    """Admit submitted tasks and write their rows, in submission order.

    Each request holds `user`, `estimated_cost` (None: the price estimate, reusing what `prices`
    remembers, with the `model_defaults` submit looked up), `record_with` (None, or the feature's
    function writing its own rows of the task, called once the task's row is written; what it
    raises fails the trip, which is then written again request by request, so that only this
    request hears of it), `read_ahead` (None, or the feature's function sending the reads
    `record_with` will need, called once the members' lock is sent: in the pipelined trip, they
    travel with that lock, and see what its last holder committed) and Task fields, among them the
    `worker` that runs it. The rows are written running: the worker sends each task as soon as it
    is admitted. A refused task's outcome is its `Refused`. Runs inside a transaction (a group
    commit's trip): should the database fail, the trip is written again request by request (see
    runner.batching), so that only the member whose request fails hears of it.
    """
    learned = prices.current() if prices is not None else {}
    now = timezone.now()
    outcomes: list[Task | Exception | None] = [None] * len(requests)  # Task or Refused
    members: dict[int, list[int]] = {}
    for index, request in enumerate(requests):
        members.setdefault(request["user"].pk, []).append(index)

    def read_ahead() -> None:
        for request in requests:
            if request.get("read_ahead") is not None:
                request["read_ahead"]()

    locked = lock_members(list(members), then=read_ahead)
    unwritten: list[Task] = []
    for user_id, indexes in members.items():
        if locked[user_id].team is not None and unwritten:
            # A member whose team has a budget counts what teammates were just admitted: written first.
            sql.insert(unwritten)
            unwritten = []
        tasks = [new_task(requests[index], learned, now, team_id=locked[user_id].team_id) for index in indexes]
        refusals = admit_many(
            user=requests[indexes[0]]["user"], estimates=[task.estimated_cost for task in tasks],
            member=locked[user_id], models=[task.model for task in tasks],
        )
        for index, task, refused in zip(indexes, tasks, refusals, strict=True):
            outcomes[index] = refused or task
            if not refused:
                unwritten.append(task)
    sql.insert(unwritten)
    for request, outcome in zip(requests, outcomes, strict=True):
        if request.get("record_with") is not None and isinstance(outcome, Task):
            request["record_with"](outcome)
    return outcomes  # type: ignore[return-value]


def new_task(request: dict[str, Any], learned: Learned, now: datetime, *, team_id: int | None,
             read_recent: bool = True) -> Task:
    """The task's row, of the member's team as admission just read it (a script's socket holds its
    member's object from when it authenticated). `read_recent=False`: raises prices.NotLearned
    rather than read what recent tasks cost."""
    fields = dict(request)
    user, estimated_cost = fields.pop("user"), fields.pop("estimated_cost")
    defaults = fields.pop("model_defaults", None)  # looked up by submit, before this transaction
    catalogue = fields.pop("catalogue_price", None)  # likewise
    fields.pop("record_with", None)
    fields.pop("read_ahead", None)
    fields.pop("quick", None)
    if estimated_cost is None:
        estimated_cost = estimate(fields["task_type"], fields["params"], fields["number_results"],
                                  defaults=defaults, learned=learned, catalogue=catalogue, read_recent=read_recent)
    return Task(
        user=user,
        team_id=team_id,
        model=str(fields["params"].get("model", ""))[:200],
        estimated_cost=estimated_cost,
        status=Task.Status.RUNNING,
        started_at=now,
        **fields,
    )
