"""Delete for good what has been in the trash longer than TRASH_RETENTION_DAYS (run it daily)."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand

from runware_web.media.trash import purge_expired


class Command(BaseCommand):
    help = (
        "Delete images that have been in the trash longer than RUNWARE_WEB_TRASH_DAYS days, with their "
        "files. Their cost stays in the ledger."
    )

    def handle(self, *args, **options) -> None:
        count = purge_expired()
        self.stdout.write(
            f"Deleted {count} image{'s' if count != 1 else ''} trashed more than "
            f"{settings.TRASH_RETENTION_DAYS} days ago."
        )
