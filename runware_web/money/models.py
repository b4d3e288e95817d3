from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from runware_web.lib.money import COST


class Charge(models.Model):
    """One row of the ledger: a cost exactly as Runware reported it for one result of a task.

    Totals are always sums of these rows. Deleting an image or a conversation never deletes a
    charge (the task it points to is kept too).
    """

    task = models.ForeignKey("upstream.Task", on_delete=models.PROTECT, related_name="charges")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="charges")
    team = models.ForeignKey(
        "accounts.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="charges"
    )
    task_type = models.CharField(max_length=40)
    model = models.CharField(max_length=200, blank=True)
    result_key = models.CharField(
        max_length=100, help_text="Which result of the task this is for (image UUID, index…)."
    )
    amount = models.DecimalField(**COST)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["task", "result_key"], name="charge_once_per_result"),
        ]
        indexes = [
            models.Index(fields=["user", "created_at"], name="charge_user_time"),
            models.Index(fields=["team", "created_at"], name="charge_team_time"),
        ]

    def __str__(self) -> str:
        return f"{self.amount} for {self.task_type} {self.task_id}"


class BalanceReading(models.Model):
    """The upstream account balance at one moment, and how far the ledger had got by then.

    Reconciliation compares the balance's decrease between a starting point and the latest
    reading with the sum of the ledger rows recorded in between (by id, not by clock).
    """

    balance = models.DecimalField(**COST)
    last_charge_id = models.BigIntegerField(
        default=0, help_text="The newest ledger row when the balance was read (0: none yet)."
    )
    tasks_running = models.PositiveIntegerField(
        default=0, help_text="Tasks still running then: their costs may be in one side only."
    )
    is_starting_point = models.BooleanField(default=False)
    taken_at = models.DateTimeField(default=timezone.now)
    taken_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-taken_at", "-id"]
        get_latest_by = ["taken_at", "id"]

    def __str__(self) -> str:
        return f"{self.balance} at {self.taken_at:%Y-%m-%d %H:%M}"
