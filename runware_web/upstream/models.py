from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone

COST = {"max_digits": 18, "decimal_places": 10}


class TaskQuerySet(models.QuerySet["Task"]):
    def for_user(self, user) -> TaskQuerySet:
        return self.filter(user=user)

    def active(self) -> TaskQuerySet:
        return self.filter(status__in=[Task.Status.QUEUED, Task.Status.RUNNING])

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
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="tasks")
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
    def duration(self):
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None


class Worker(models.Model):
    """A process running tasks; its heartbeat tells other workers whether it is still alive."""

    id = models.CharField(max_length=64, primary_key=True)
    hostname = models.CharField(max_length=200, blank=True)
    pid = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now)
    stopped_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.id
