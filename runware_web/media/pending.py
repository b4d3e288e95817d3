"""Results billed but not stored yet, because the disk where images go was full (`PendingResult`).

The runner keeps a result here when storing it fails for want of room, and every worker retries
the rows that are due (runner.waiting): each claims a row with a conditional update, so exactly
one worker stores it, and a worker that dies holding a claim loses it after CLAIM_SECONDS. Rows
live in the database, so they outlive any worker. Sync: call from a database thread.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone

from runware_web.media.models import PendingResult

# Longer than the slowest store (a 60 s download, then the files): a live worker keeps its claim.
CLAIM_SECONDS = 120
LONGEST_WAIT = 600  # seconds between two tries of a result that keeps failing for another reason


def keep(task_id: Any, result_key: str, item: dict[str, Any], error: str) -> PendingResult:
    """Keep a result to store later (once: a result kept again refreshes its item and error)."""
    fields = {"item": item, "last_error": error[:200], "next_attempt_at": timezone.now()}
    try:
        with transaction.atomic():
            return PendingResult.objects.create(task_id=task_id, result_key=result_key[:64], **fields)
    except IntegrityError:  # kept before (an adopted task's result, fetched again): one row still
        PendingResult.objects.filter(task_id=task_id, result_key=result_key[:64]).update(**fields)
        return PendingResult.objects.get(task_id=task_id, result_key=result_key[:64])


def due(limit: int = 50) -> list[int]:
    """The rows whose next try has come and that no live claim holds, oldest first."""
    now = timezone.now()
    return list(
        PendingResult.objects.filter(next_attempt_at__lte=now)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .order_by("created_at", "id")
        .values_list("pk", flat=True)[:limit]
    )


def claim(pk: int, worker_id: str) -> PendingResult | None:
    """Claim a row for `worker_id` (a conditional update: of two workers, one wins); None if lost."""
    now = timezone.now()
    claimed = PendingResult.objects.filter(
        Q(claimed_until__isnull=True) | Q(claimed_until__lt=now), pk=pk, next_attempt_at__lte=now,
    ).update(claimed_by=worker_id[:64], claimed_until=now + timedelta(seconds=CLAIM_SECONDS))
    return PendingResult.objects.select_related("task").filter(pk=pk).first() if claimed else None


def stored(row: PendingResult) -> None:
    """The result is in storage now: the row goes."""
    PendingResult.objects.filter(pk=row.pk).delete()


def release(row: PendingResult, error: str, *, retry_in: float) -> None:
    """Not stored this time: counted, and free for any worker to try again in `retry_in` seconds."""
    PendingResult.objects.filter(pk=row.pk, claimed_by=row.claimed_by).update(
        attempts=row.attempts + 1, last_error=error[:200], claimed_by="", claimed_until=None,
        next_attempt_at=timezone.now() + timedelta(seconds=retry_in),
    )


def waiting_for(task_ids: Iterable[Any]) -> dict[Any, int]:
    """How many results of each task wait to be stored (tasks with none are left out)."""
    rows = (PendingResult.objects.filter(task_id__in=list(task_ids)).values("task_id")
            .annotate(count=Count("id")).values_list("task_id", "count"))
    return dict(rows)


def waiting_of(task_id: Any) -> int:
    """How many results of one task wait to be stored."""
    return waiting_for([task_id]).get(task_id, 0)


def waiting_count() -> int:
    """How many results wait to be stored, all members together (for operators)."""
    return PendingResult.objects.count()
