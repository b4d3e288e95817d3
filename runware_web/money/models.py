from __future__ import annotations

from datetime import datetime

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


class BudgetAlert(models.Model):
    """A member's or a team's spend in one budget period reached a share of its budget (50, 80 or
    100 %): recorded once per threshold and period, whichever worker saw it first (the unique
    constraints), with one `AlertDelivery` per email and webhook it is sent to."""

    class Scope(models.TextChoices):
        MEMBER = "member", "Member"
        TEAM = "team", "Team"

    scope = models.CharField(max_length=6, choices=Scope.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="budget_alerts",
        help_text="The member whose own budget it is (member alerts only).",
    )
    team = models.ForeignKey(
        "accounts.Team", null=True, blank=True, on_delete=models.CASCADE, related_name="budget_alerts",
        help_text="The team whose budget it is, or the member's team then (whose admins and webhook hear of it).",
    )
    period = models.CharField(max_length=5, help_text="The budget period's kind then: day, week or month.")
    period_start = models.DateField()
    threshold = models.PositiveSmallIntegerField(help_text="Per cent of the budget.")
    budget = models.DecimalField(**COST)
    spent = models.DecimalField(**COST, help_text="What the ledger held for the period when it was reached.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "period", "period_start", "threshold"], condition=models.Q(scope="member"),
                name="budget_alert_once_per_member_period",
            ),
            models.UniqueConstraint(
                fields=["team", "period", "period_start", "threshold"], condition=models.Q(scope="team"),
                name="budget_alert_once_per_team_period",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.threshold} % of the {self.scope} budget ({self.period_start})"


class AlertDelivery(models.Model):
    """The outbox: one email or webhook POST of a budget alert, sent outside the charge's
    transaction by the runner's delivery loop (money.alerts), retried with backoff until it is
    taken, or given up after settings.RUNWARE_ALERT_GIVE_UP_HOURS."""

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        WEBHOOK = "webhook", "Webhook"

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting"
        SENT = "sent", "Sent"
        FAILED = "failed", "Given up"

    alert = models.ForeignKey(BudgetAlert, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.CharField(max_length=7, choices=Channel.choices)
    recipient = models.CharField(
        max_length=500, blank=True, help_text="The email address; for a webhook, where it was last posted."
    )
    status = models.CharField(max_length=7, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(
        default=timezone.now, help_text="When it is due; while a worker sends it, the end of that worker's claim."
    )
    last_error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="alert_delivery_due")]
        verbose_name_plural = "alert deliveries"

    def __str__(self) -> str:
        return f"{self.get_channel_display()} of {self.alert} ({self.get_status_display()})"

    def sent(self, recipient: str) -> None:
        self.status, self.recipient, self.last_error = self.Status.SENT, recipient, ""
        self.attempts += 1
        self.sent_at = timezone.now()
        self.save(update_fields=["status", "recipient", "last_error", "attempts", "sent_at"])

    def failed(self, error: str, *, retry_at: datetime | None) -> None:
        """Not taken: tried again at `retry_at`, or given up (None)."""
        self.attempts += 1
        self.last_error = error
        if retry_at is None:
            self.status = self.Status.FAILED
        else:
            self.next_attempt_at = retry_at
        self.save(update_fields=["attempts", "last_error", "status", "next_attempt_at"])

    @property
    def is_retrying(self) -> bool:
        return self.status == self.Status.PENDING and self.attempts > 0
