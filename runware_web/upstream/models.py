"""Task and Worker: what was sent to Runware, and which process owns it.

A Task's state changes are the methods of TaskQuerySet (end, cancel, adopt, count results). The
runner calls them for every task and output, so the busiest are single statements written by
hand (see runware_web.lib.sql); they live here and nowhere else.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from django.conf import settings
from django.db import connection, models, transaction
from django.utils import timezone

from runware_web.accounts.models import User
from runware_web.lib import sql
from runware_web.lib.money import COST
from runware_web.upstream.errors import UpstreamError


class TaskQuerySet(models.QuerySet["Task"]):
    def for_user(self, user: User) -> TaskQuerySet:
        return self.filter(user=user)

    def active(self) -> TaskQuerySet:
        return self.filter(status__in=[Task.Status.QUEUED, Task.Status.RUNNING])

    def end(self, tasks: list[Task], status: str, error: UpstreamError | None = None) -> None:
        """Finish tasks with a status (and the error they failed with); a cancelled task stays
        cancelled whatever happens after, and only takes the end's time and error.

        The Task objects given take their final state once it is committed: the runner's
        handlers read it from them."""
        fields: dict[str, Any] = {"finished_at": timezone.now()}
        if error is not None:
            fields.update(
                error_code=error.code, error_message=error.full_message, error_parameter=error.parameter[:100]
            )
        ids = [task.pk for task in tasks]
        ended = _set_unless_cancelled(ids, status=str(status), **fields)
        cancelled: dict[uuid.UUID, datetime | None] = {}
        if ended < len(set(ids)):  # the member cancelled some meanwhile: those end as cancelled
            cancelled_ones = self.filter(pk__in=ids, status=Task.Status.CANCELLED)
            cancelled_ones.update(**fields)
            cancelled = dict(cancelled_ones.values_list("pk", "cancelled_at"))
        transaction.on_commit(partial(_follow_end, tasks, status, fields, cancelled))

    def cancel_active(self, *, user: User, task_id: Any) -> Task | None:
        """Mark a member's task cancelled if it is still active; the task, or None if it is not."""
        try:
            task_uuid = uuid.UUID(str(task_id))
        except ValueError:
            return None
        cancelling = self.active().filter(pk=task_uuid, user=user)
        if not cancelling.update(status=Task.Status.CANCELLED, cancelled_at=timezone.now()):
            return None
        return self.get(pk=task_uuid)

    def adopt_orphans(self, worker_id: str, *, stale_before: datetime) -> list[Task]:
        """Claim for `worker_id` the unfinished tasks of workers stopped or silent since
        `stale_before`; the tasks claimed. Each claim is a conditional update, so that two
        workers never adopt the same task; all are claimed in one transaction, so that a dropped
        database connection leaves none claimed by a worker that never heard it had it (the scan
        runs again, lib.reconnect)."""
        # The live workers are a subquery of each statement, never a list read before it: a worker
        # registers before it writes a task, so a statement that sees the task sees its worker's row
        # too. (Read first, the list missed a worker that started meanwhile, whose first task the
        # next statement found and took from it.)
        alive = Worker.objects.alive(stale_before).values("id")
        unfinished = self.filter(
            status__in=[Task.Status.QUEUED, Task.Status.RUNNING, Task.Status.CANCELLED], finished_at__isnull=True
        ).exclude(worker=worker_id).exclude(worker__in=alive)
        orphans = [
            task for task in unfinished.order_by("pk")  # one lock order for all workers
            # A queued task just created by a live request on another worker may not be started yet.
            if task.status != Task.Status.QUEUED or task.created_at <= stale_before
        ]
        if not orphans:
            return []  # no transaction (on SQLite it would take the write lock) on the usual scan
        adopted = []
        with transaction.atomic():
            for task in orphans:
                claim = self.filter(pk=task.pk, worker=task.worker, finished_at__isnull=True).exclude(worker__in=alive)
                if claim.update(worker=worker_id):
                    task.refresh_from_db()
                    adopted.append(task)
        return adopted

    def count_results(self, received: dict[uuid.UUID, int]) -> None:
        """Add to tasks' result counts (task → outputs received) and recompute each task's cost
        from its ledger rows, in one statement written by hand: it runs for every batch of outputs."""
        if not received:
            return
        charge = Task._meta.get_field("charges").related_model  # money's ledger row, not imported here
        places = charge._meta.get_field("amount").decimal_places
        tasks, task_id, counted = sql.table(Task), sql.column(Task), sql.column(Task, "results_received")
        charges = sql.table(charge)
        total = sql.exact_sum(f"{charges}.{sql.column(charge, 'amount')}", places)
        ids = [sql.value(Task, "pk", pk) for pk in received]
        statement = (
            f"UPDATE {tasks} SET {counted} = {counted} + CASE {task_id} "
            f"{' '.join(['WHEN %s THEN %s'] * len(ids))} END, "
            f"{sql.column(Task, 'cost')} = (SELECT {total} FROM {charges} "
            f"WHERE {charges}.{sql.column(charge, 'task')} = {tasks}.{task_id}) "
            f"WHERE {task_id} IN ({sql.placeholders(len(ids))})"
        )
        cases = [value for pk, count in zip(ids, received.values(), strict=True) for value in (pk, count)]
        with connection.cursor() as cursor:
            cursor.execute(statement, [*cases, *ids])

    def recently_billed(self, task_type: str, model: str, limit: int):
        """(params, cost, results received) of the newest finished tasks of a type and model that
        produced something: what price estimates learn from (an index covers exactly this read)."""
        return (
            self.filter(task_type=task_type, model=model[:200], status=Task.Status.DONE, results_received__gt=0)
            .order_by("-created_at")
            .values_list("params", "cost", "results_received")[:limit]
        )


class Task(models.Model):
    """One Runware task. Written before anything is sent, so a restarted worker can recover it.

    The primary key is the `taskUUID` sent to Runware.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Indexed by task_user_recent and task_user_feature, which lead with it: an index of its own would
    # only cost every task's insert one more write.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="tasks", db_index=False)
    team = models.ForeignKey(
        "accounts.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks"
    )
    feature = models.CharField(max_length=20, help_text="The portal piece that asked: studio, chat, tools…")
    task_type = models.CharField(max_length=40)
    model = models.CharField(max_length=200, blank=True)
    params = models.JSONField(default=dict, help_text="The Runware parameters, as sent.")
    delivery = models.CharField(max_length=10, default="sync")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    number_results = models.PositiveIntegerField(default=1)
    results_received = models.PositiveIntegerField(default=0)
    estimated_cost = models.DecimalField(**COST, default=Decimal(0))
    cost = models.DecimalField(
        **COST, default=Decimal(0), help_text="Sum of this task's ledger rows, recomputed from them."
    )
    error_code = models.CharField(max_length=40, blank=True)
    error_message = models.TextField(blank=True)
    error_parameter = models.CharField(max_length=100, blank=True)
    worker = models.CharField(max_length=64, blank=True, help_text="The worker process running it.")
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    objects = TaskQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="task_user_recent"),
            models.Index(fields=["user", "feature", "-created_at"], name="task_user_feature"),
            models.Index(fields=["status", "worker"], name="task_status_worker"),
            # Price estimates learn from the newest finished tasks of a type and model.
            models.Index(fields=["task_type", "model", "-created_at"], name="task_type_model_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.task_type} {self.id} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in {self.Status.QUEUED, self.Status.RUNNING}

    @property
    def duration(self) -> timedelta | None:
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None


class WorkerQuerySet(models.QuerySet["Worker"]):
    def alive(self, stale_before: datetime) -> WorkerQuerySet:
        """Workers not stopped that were seen since `stale_before`."""
        return self.filter(stopped_at__isnull=True, last_seen__gte=stale_before)


class Worker(models.Model):
    """A process running tasks; its heartbeat tells other workers whether it is still alive."""

    id = models.CharField(max_length=64, primary_key=True)
    hostname = models.CharField(max_length=200, blank=True)
    pid = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now)
    stopped_at = models.DateTimeField(null=True, blank=True)

    objects = WorkerQuerySet.as_manager()

    def __str__(self) -> str:
        return self.id


def _set_unless_cancelled(ids: list[uuid.UUID], **fields: Any) -> int:
    """Set fields of the tasks that are not cancelled; how many it set. Written by hand (see
    runware_web.lib.sql): it runs for every task."""
    assignments = ", ".join(f"{sql.column(Task, name)} = %s" for name in fields)
    statement = (
        f"UPDATE {sql.table(Task)} SET {assignments} "
        f"WHERE {sql.column(Task)} IN ({sql.placeholders(len(ids))}) AND {sql.column(Task, 'status')} <> %s"
    )
    params = [sql.value(Task, name, value) for name, value in fields.items()]
    params += [sql.value(Task, "pk", pk) for pk in ids]
    with connection.cursor() as cursor:
        cursor.execute(statement, [*params, Task.Status.CANCELLED.value])
        return cursor.rowcount


def _follow_end(
    tasks: list[Task], status: str, fields: dict[str, Any], cancelled: dict[uuid.UUID, datetime | None]
) -> None:
    """Ended tasks' objects take their final state, once it is committed."""
    for task in tasks:
        for name, value in fields.items():
            setattr(task, name, value)
        task.status = Task.Status.CANCELLED if task.pk in cancelled else status
        task.cancelled_at = cancelled.get(task.pk, task.cancelled_at)
