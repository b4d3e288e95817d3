"""Members' personal API keys, and which key started which task.

A key is shown once, when it is made, and stored only as a hash: a leaked database does not
leak working keys. The keys are 256 random bits, so one SHA-256 is enough (nobody guesses
such a key by trying hashes; a slow password hash would only slow every request).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from django.conf import settings
from django.db import connection, models
from django.utils import timezone

from runware_web.accounts.models import User
from runware_web.lib import sql
from runware_web.lib.money import COST
from runware_web.money.models import Charge
from runware_web.money.reports import SHARE_QUANTUM, committed_sql
from runware_web.upstream.models import Task


class ApiKeyQuerySet(models.QuerySet["ApiKey"]):
    def usable(self, now: datetime | None = None) -> ApiKeyQuerySet:
        """Keys that may start tasks: not revoked, not expired, of an active member."""
        now = now or timezone.now()
        return self.filter(revoked_at__isnull=True, user__is_active=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)
        )

    def send_usable(self, key_id: Any) -> Callable[[], ApiKey | None]:
        """The key, if usable (as `usable` says), read when the returned function is called; the
        statement is sent now (lib.sql.send_read: in the admission's pipelined trip, it goes with
        the lock of the key's member). Its member is not read (`user` loads on use).

        Written by hand (lib.sql): it runs in the admission of every task a script starts, where
        compiling it through the ORM took longer than the rest of the admission. Not locked: the
        admission has locked the key's member, whose every task it weighs one after the other."""
        params = [sql.value(ApiKey, "pk", key_id), sql.value(ApiKey, "expires_at", timezone.now())]
        return sql.send_read(ApiKey, _usable_statement, params)  # type: ignore[return-value]


    def quick_condition(self, key_id: Any, *, user_id: Any, task_type: str, model: str, estimate: Decimal,
                        client_task_uuid: uuid.UUID) -> tuple[str, list[Any]]:
        """An SQL condition that holds only if the endpoint would admit a task with this key now
        (services.record_call), and its values: for a message that writes the task only if it holds
        (runner.quick), sent once the key's member is locked, after the tasks the message wrote
        before it, which it counts. The key usable and the member's own, allowed the task's type and
        model, within its own budget for its period (keys.admit_for_key, reckoned as
        money.admission.quick_condition reckons a member's), under its rate limit; and the script's
        taskUUID not yet one of the member's. PostgreSQL only. Its text is built once: it runs for
        every task a script starts."""
        now = timezone.now()
        listed = ApiKey._meta.get_field("allowed_task_types")
        params = [
            key_id, user_id, now, listed.get_db_prep_save([task_type], connection),
            listed.get_db_prep_save([model], connection), *key_period_starts(now),
            # What the task itself reserves once written (as admit_for_key counts it): never less than this.
            estimate + SHARE_QUANTUM,
        ]
        limit = settings.ENDPOINT_TASKS_PER_MINUTE_PER_KEY
        if limit:
            params += [now - timedelta(minutes=1), limit]
        params += [user_id, client_task_uuid]
        return sql.built(("quick key", bool(limit)), partial(_quick_key_condition, counting=bool(limit))), params


def key_period_starts(now: datetime) -> list[datetime]:
    """When a key's current day, week and month began (ApiKey.period_start): money.reports.period_start_sql's values."""
    return [_period_start(kind, now) for kind in ("day", "week", "month")]


def _quick_key_condition(*, counting: bool) -> str:
    """ApiKeyQuerySet.quick_condition's text (its values in the order it gives them)."""
    key, member, started, used = "quick_key", "quick_key_member", "quick_key_started", "quick_used"
    types, models = f"{key}.{sql.column(ApiKey, 'allowed_task_types')}", f"{key}.{sql.column(ApiKey, 'allowed_models')}"
    budget = f"{key}.{sql.column(ApiKey, 'budget')}"
    condition = (
        f"EXISTS (SELECT 1 FROM {sql.table(ApiKey)} {key} INNER JOIN {sql.table(User)} {member} "
        f"ON {member}.{sql.column(User)} = {key}.{sql.column(ApiKey, 'user')} "
        f"WHERE {key}.{sql.column(ApiKey)} = %s AND {member}.{sql.column(User)} = %s "
        f"AND {key}.{sql.column(ApiKey, 'revoked_at')} IS NULL AND {member}.{sql.column(User, 'is_active')} "
        f"AND ({key}.{sql.column(ApiKey, 'expires_at')} IS NULL OR {key}.{sql.column(ApiKey, 'expires_at')} > %s) "
        f"AND ({types} = '[]'::jsonb OR {types} @> %s) AND ({models} = '[]'::jsonb OR {models} @> %s) "
        f"AND ({budget} IS NULL OR {_committed_sql(key)} + %s <= {budget})"
    )
    if counting:
        condition += (
            f" AND (SELECT COUNT(*) FROM {sql.table(EndpointCall)} {started} WHERE "
            f"{started}.{sql.column(EndpointCall, 'key')} = {key}.{sql.column(ApiKey)} "
            f"AND {started}.{sql.column(EndpointCall, 'created_at')} >= %s) < %s"
        )
    return condition + (
        f") AND NOT EXISTS (SELECT 1 FROM {sql.table(EndpointCall)} {used} "
        f"WHERE {used}.{sql.column(EndpointCall, 'user')} = %s AND {used}.{sql.column(EndpointCall, 'client_task_uuid')} = %s)"
    )


def _committed_sql(key: str) -> str:
    """What a key's budget has committed in its period (money.reports.committed_sql; keys.key_use's
    `committed`): the ledger rows and running tasks of its calls. `key` is the table alias of its
    row, whose `budget_period` picks the period (its values: key_period_starts)."""
    call = "quick_key_call"
    by_key = f"WHERE {call}.{sql.column(EndpointCall, 'key')} = {key}.{sql.column(ApiKey)}"
    calls = f"INNER JOIN {sql.table(EndpointCall)} {call} ON {call}.{sql.column(EndpointCall, 'task')}"
    return committed_sql(
        f"{key}.{sql.column(ApiKey, 'budget_period')}",
        charges=f"{calls} = budget_charge.{sql.column(Charge, 'task')} {by_key}",
        tasks=f"{calls} = budget_task.{sql.column(Task)} {by_key}",
    )


def _usable_statement(columns: str) -> str:
    """ApiKeyQuerySet.send_usable's statement ("t": the key, "m": its member)."""
    key, member = "t", "m"
    return (
        f"SELECT {columns} FROM {sql.table(ApiKey)} {key} "
        f"INNER JOIN {sql.table(User)} {member} ON {member}.{sql.column(User)} = {key}.{sql.column(ApiKey, 'user')} "
        f"WHERE {key}.{sql.column(ApiKey)} = %s AND {key}.{sql.column(ApiKey, 'revoked_at')} IS NULL "
        f"AND {member}.{sql.column(User, 'is_active')} "
        f"AND ({key}.{sql.column(ApiKey, 'expires_at')} IS NULL OR {key}.{sql.column(ApiKey, 'expires_at')} > %s)"
    )


class ApiKey(models.Model):
    """A member's personal key for the Runware-compatible endpoint at /v1."""

    class Period(models.TextChoices):
        DAY = "day", "per day"
        WEEK = "week", "per week"
        MONTH = "month", "per month"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=80)
    prefix = models.CharField(max_length=16, help_text="The key's first characters, to recognise it in a list.")
    digest = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the key; the key itself is never stored.")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    budget = models.DecimalField(**COST, null=True, blank=True, help_text="US dollars per period; empty means no limit of its own.")
    budget_period = models.CharField(max_length=10, choices=Period.choices, default=Period.MONTH)
    allowed_task_types = models.JSONField(default=list, blank=True, help_text="Task types it may run; empty means any.")
    allowed_models = models.JSONField(default=list, blank=True, help_text="Models (AIR) it may use; empty means any.")
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "-created_at"], name="apikey_user_recent")]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    def period_start(self, now: datetime | None = None) -> datetime:
        """When the key's current budget period began (local days, weeks from Monday, months)."""
        return _period_start(self.budget_period, now or timezone.now())


def _period_start(period: str, now: datetime) -> datetime:
    today = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    if period == ApiKey.Period.DAY:
        return today
    if period == ApiKey.Period.WEEK:
        return today - timedelta(days=today.weekday())
    return today.replace(day=1)


class EndpointCallQuerySet(models.QuerySet["EndpointCall"]):
    def send_started_count(self, key_id: Any, since: datetime) -> Callable[[], int]:
        """How many tasks the key started since `since`, sent now and read when the returned
        function is called (lib.sql.send_count: in the admission's pipelined trip, it goes with the
        lock of the key's member).

        Written by hand (lib.sql), as the member's own count is (money.admission.lock_members): it
        runs in the admission of every task a script starts, where compiling it through the ORM
        took longer than the rest of the admission."""
        statement = sql.built(("key's started count",), lambda: (
            f"SELECT COUNT(*) FROM {sql.table(EndpointCall)} WHERE {sql.column(EndpointCall, 'key')} = %s "
            f"AND {sql.column(EndpointCall, 'created_at')} >= %s"
        ))
        return sql.send_count(statement, [sql.value(ApiKey, "pk", key_id), sql.value(EndpointCall, "created_at", since)])


class EndpointCall(models.Model):
    """A task started through the endpoint: with which key, under which id the script knows it.

    The Task's own primary key is the portal's (the taskUUID sent to Runware); the script's
    taskUUID is kept here, so that two members choosing the same id never meet, and a script's
    getResponse finds its task."""

    task = models.OneToOneField("upstream.Task", primary_key=True, on_delete=models.CASCADE, related_name="endpoint_call")
    # Both indexed by the indexes below, which lead with them (endpoint_call_once_per_uuid and
    # endpoint_call_key_recent): an index of their own would only cost every task's insert a write.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False)
    key = models.ForeignKey(ApiKey, null=True, on_delete=models.SET_NULL, related_name="calls", db_index=False)
    key_name = models.CharField(max_length=80, help_text="The key's name when it started the task.")
    client_task_uuid = models.UUIDField()
    session = models.UUIDField(null=True, blank=True, help_text="The socket session that asked (none over REST).")
    output_type = models.CharField(max_length=12, default="URL")
    created_at = models.DateTimeField(default=timezone.now)

    objects = EndpointCallQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "client_task_uuid"], name="endpoint_call_once_per_uuid"),
        ]
        # The key's tasks of the last minute, counted in every admission of its tasks (endpoint.limits).
        indexes = [models.Index(fields=["key", "created_at"], name="endpoint_call_key_recent")]

    def __str__(self) -> str:
        return f"{self.client_task_uuid} via {self.key_name}"


class TextOutput(models.Model):
    """A text an endpoint task returned (a reply, a caption, one enhanced prompt), as Runware sent it.

    Kept so that getResponse, a REST request waiting for its task and a resumed socket answer with
    the same item; images are gallery `Image` rows instead. `item` holds Runware's fields without
    its own taskUUID (the script knows the task by its own)."""

    task = models.ForeignKey("upstream.Task", on_delete=models.CASCADE, related_name="endpoint_texts")
    index = models.PositiveIntegerField(help_text="The result's place within the task.")
    item = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["task", "index"]
        constraints = [
            models.UniqueConstraint(fields=["task", "index"], name="endpoint_text_once_per_index"),
        ]

    def __str__(self) -> str:
        return str(self.item.get("text") or "")[:60]
