"""Making, finding and revoking members' API keys, and what each key has spent.

A key is `rwp_` and 43 characters of `secrets.token_urlsafe(32)` (256 random bits): the prefix lets
secret scanners and people recognise it. Only its SHA-256 is stored; with that much entropy no
salt or slow hash adds anything, and a lookup by digest is one indexed read per connection.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import Http404
from django.utils import timezone

from runware_web.accounts.models import User
from runware_web.endpoint.limits import send_started_count
from runware_web.endpoint.models import ApiKey
from runware_web.endpoint.protocol import INVALID_KEY
from runware_web.lib.money import usd
from runware_web.money.models import Charge
from runware_web.money.reports import BudgetUse, reserved, total
from runware_web.upstream.errors import Refused
from runware_web.upstream.models import Task

KEY_PREFIX = "rwp_"
SHOWN_PREFIX = 10  # characters of a key kept to recognise it in the list ("rwp_" and six more)


def digest(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def create_key(user: User, *, name: str, expires_at: datetime | None = None, budget: Decimal | None = None,
               budget_period: str = ApiKey.Period.MONTH, task_types: list[str] | None = None,
               models: list[str] | None = None) -> tuple[ApiKey, str]:
    """A new key of the member's, and its plaintext: the only time anyone sees it."""
    plaintext = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey.objects.create(
        user=user, name=name, prefix=plaintext[:SHOWN_PREFIX], digest=digest(plaintext), expires_at=expires_at,
        budget=budget, budget_period=budget_period, allowed_task_types=task_types or [], allowed_models=models or [],
    )
    return key, plaintext


def authenticate(plaintext: Any) -> ApiKey | None:
    """The usable key with this plaintext (not revoked or expired, its member active), or None.

    Marks it used now. Any string is looked up the same way (one indexed read by digest), so an
    unknown key and a revoked one take the same time to refuse."""
    if not isinstance(plaintext, str) or not plaintext.startswith(KEY_PREFIX) or len(plaintext) > 200:
        return None
    key = ApiKey.objects.usable().select_related("user").filter(digest=digest(plaintext)).first()
    if key is not None:
        now = timezone.now()
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key


def still_usable(key_id: Any) -> ApiKey | None:
    """The key afresh, if it may still start tasks (it may have been revoked since the socket opened)."""
    return ApiKey.objects.usable().select_related("user").filter(pk=key_id).first()


def keys_of(user: User) -> list[ApiKey]:
    return list(ApiKey.objects.filter(user=user))


def revoke(actor: User, key_id: Any) -> ApiKey:
    """Revoke a key: the member's own, or anyone's for staff. 404 for anyone else's (not 403: another
    member's key is not shown to exist)."""
    keys = ApiKey.objects.all() if actor.is_staff else ApiKey.objects.filter(user=actor)
    try:
        key = keys.get(pk=key_id)
    except (ApiKey.DoesNotExist, ValueError, TypeError):
        raise Http404("No such key.") from None
    if key.revoked_at is None:
        key.revoked_at, key.revoked_by = timezone.now(), actor
        key.save(update_fields=["revoked_at", "revoked_by"])
    return key


# ---------------------------------------------------------------------- spend and budget


def key_use(key: ApiKey) -> BudgetUse:
    """What the key spent in its current period (ledger rows), and holds for its running tasks."""
    start = key.period_start()
    return BudgetUse(
        budget=key.budget,
        spent=total(Charge.objects.filter(task__endpoint_call__key=key, created_at__gte=start)),
        running=reserved(Task.objects.filter(endpoint_call__key=key)),
    )


def spent_all_time(keys: list[ApiKey]) -> dict[Any, Decimal]:
    """Each key's whole spend, for the list of keys (one exact sum per key)."""
    return {key.pk: total(Charge.objects.filter(task__endpoint_call__key=key)) for key in keys}


def key_refusal(key: ApiKey, estimate: Decimal) -> Refused | None:
    """The refusal when a task estimated at `estimate` would take the key over its own budget."""
    if key.budget is None:
        return None
    use = key_use(key)
    if use.committed + estimate <= key.budget:
        return None
    return Refused(
        f"This would go over the budget of key “{key.name}” ({usd(key.budget)} {key.get_budget_period_display()}): "
        f"{usd(use.remaining)} remains and this task is estimated at {usd(estimate)}. "
        "Raise the key's budget on your keys page, or wait for its next period."
    )


def usable_for_task(key_id: Any, task: Task) -> ApiKey:
    """The key afresh, for the admission of `task` (services.record_call), which has locked the key's
    member: two tasks of one key on two workers are weighed one after the other. Raises Refused
    when the key may no longer start it: revoked or expired since the script authenticated (code
    "auth"), or no longer allowed the task's type or model (code "rule")."""
    key = _usable_key(key_id)()
    if key is None:
        raise Refused(INVALID_KEY, field="apiKey", code="auth")
    if key.user_id == task.user_id:
        key.user = task.user  # not read again: admission read what matters of them afresh (money.admission)
    if key.allowed_task_types and task.task_type not in key.allowed_task_types:
        raise Refused(f"Key “{key.name}” may not run {task.task_type} tasks.", field="taskType", code="rule")
    if key.allowed_models and task.model not in key.allowed_models:
        raise Refused(f"Key “{key.name}” may not use the model {task.model}.", field="model", code="rule")
    return key


def read_ahead(key_id: Any) -> None:
    """Send the key's reads once the admission has sent its member's lock (runner.admit's
    `read_ahead`): in the admission's pipelined trip (lib.sql.pipelined_transaction), they go with
    that lock instead of a round trip each. The count of the key's recent tasks, sent after the
    lock, counts what the lock's last holder wrote (another worker admitting the same key)."""
    _usable_key(key_id)
    if settings.ENDPOINT_TASKS_PER_MINUTE_PER_KEY:
        _trip().started(key_id)


def started_this_minute(key_id: Any) -> int | None:
    """How many tasks the key started in the last minute, before the one being admitted: those
    committed, read with the member locked, and those admitted earlier in this transaction. None
    without a per-key rate limit: nothing is counted."""
    if not settings.ENDPOINT_TASKS_PER_MINUTE_PER_KEY:
        return None
    trip = _trip()
    count = trip.started(key_id)()
    return count + trip.admitted[key_id] - trip.counted_with[key_id]


def note_started(key_id: Any) -> None:
    """A task of the key was admitted in this transaction (its EndpointCall written)."""
    _trip().admitted[key_id] += 1


@dataclass
class _Reads:
    """What one admission transaction read of its keys, each sent once: the tasks a script starts
    together are admitted in one (runner.batching). Calling a read reads it (the same value each time)."""

    usable: dict[Any, Callable[[], ApiKey | None]] = field(default_factory=dict)
    counts: dict[Any, Callable[[], int]] = field(default_factory=dict)
    admitted: Counter[Any] = field(default_factory=Counter)  # tasks of each key admitted in it so far
    counted_with: Counter[Any] = field(default_factory=Counter)  # of those, how many its count sees

    def started(self, key_id: Any) -> Callable[[], int]:
        if key_id not in self.counts:
            self.counts[key_id] = functools.cache(send_started_count(key_id))
            self.counted_with[key_id] = self.admitted[key_id]
        return self.counts[key_id]


def _trip() -> _Reads:
    """The reads of the transaction under way (fresh outside one: nothing is kept).

    Kept on the transaction's outermost atomic block, so that they end with it: a read holds its
    cursor, and the cursor its connection, which a thread's own storage would have kept open after
    the connection was handed back or its thread had ended. (Every admission opens its block with
    `with transaction.atomic()`, a new one each time.)"""
    connection = transaction.get_connection()
    if not connection.in_atomic_block or not connection.atomic_blocks:
        return _Reads()
    outermost = connection.atomic_blocks[0]
    reads = getattr(outermost, "endpoint_key_reads", None)
    if reads is None:
        reads = outermost.endpoint_key_reads = _Reads()
    return reads


def _usable_key(key_id: Any) -> Callable[[], ApiKey | None]:
    """The usable key's read, sent once per transaction. Calling it reads the key."""
    reads = _trip().usable
    if key_id not in reads:
        reads[key_id] = functools.cache(ApiKey.objects.send_usable(key_id))
    return reads[key_id]


def admit_for_key(key: ApiKey, task: Task) -> None:
    """Hold the key's budget for a task already admitted against the member's and team's budgets,
    its member locked (usable_for_task) and the task's EndpointCall written. Raises Refused: the task is
    then not admitted."""
    if key.budget is None:
        return
    use = key_use(key)  # the task's own estimate is in `running` already
    if use.committed > key.budget:
        remaining = max(key.budget - (use.committed - task.estimated_cost), 0)
        raise Refused(
            f"This would go over the budget of key “{key.name}” ({usd(key.budget)} {key.get_budget_period_display()}): "
            f"{usd(remaining)} remains and this task is estimated at {usd(task.estimated_cost)}. "
            "Raise the key's budget on your keys page, or wait for its next period."
        )
