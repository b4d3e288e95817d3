"""The trash: deleting moves images there (with an Undo); emptying it removes rows and files.

Costs are never touched: a ledger Charge points at the Task, not at the Image, and Tasks stay.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from runware_web.media.models import Image


def move_to_trash(images: QuerySet[Image]) -> int:
    return images.filter(deleted_at__isnull=True).update(deleted_at=timezone.now())


def restore(images: QuerySet[Image]) -> int:
    return images.filter(deleted_at__isnull=False).update(deleted_at=None)


def purge(images: QuerySet[Image]) -> int:
    """Delete trashed images for good: their rows, then (once that is committed) their files."""
    with transaction.atomic():
        doomed = list(images.filter(deleted_at__isnull=False).values_list("pk", "file", "thumbnail"))
        if not doomed:
            return 0
        Image.objects.filter(pk__in=[pk for pk, _, _ in doomed]).delete()
        names = [name for _, file, thumb in doomed for name in (file, thumb) if name]
        transaction.on_commit(lambda: _delete_files(names))
    return len(doomed)


def expiry_cutoff(now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - timedelta(days=settings.TRASH_RETENTION_DAYS)


def purge_expired(now: datetime | None = None, batch_size: int = 500) -> int:
    """Empty what has been in anyone's trash longer than TRASH_RETENTION_DAYS (in batches)."""
    cutoff = expiry_cutoff(now)
    total = 0
    while True:
        batch = list(
            Image.objects.filter(deleted_at__lt=cutoff).order_by("deleted_at").values_list("pk", flat=True)[
                :batch_size
            ]
        )
        if not batch:
            return total
        total += purge(Image.objects.filter(pk__in=batch))


def _delete_files(names: list[str]) -> None:
    # Another image may share a file (never made by the portal, but seeded data does): keep those.
    still_used = set(Image.objects.filter(file__in=names).values_list("file", flat=True)) | set(
        Image.objects.filter(thumbnail__in=names).values_list("thumbnail", flat=True)
    )
    for name in names:
        if name not in still_used:
            default_storage.delete(name)
