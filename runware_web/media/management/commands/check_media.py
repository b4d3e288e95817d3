"""List what the media store's rows and its files disagree on: images whose file (or thumbnail) is
gone from storage, and files in the store's folders that no image owns. Works the same on the local
folder and on an S3 bucket (it reads `default_storage`). Exit code 1 when anything is wrong, so a
cron job or a monitoring check can run it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from django.core.files.storage import Storage, default_storage
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from runware_web.media.models import Image

#: The store's folders (Image.file and Image.thumbnail's upload_to).
FOLDERS = ("images", "thumbs")


def stored_files(storage: Storage, folder: str) -> Iterator[str]:
    """Every file under `folder`, as the names rows hold (one listing per folder: no request per row)."""
    try:
        folders, files = storage.listdir(folder)
    except FileNotFoundError:  # a local store that has never stored anything there
        return
    for name in files:
        yield f"{folder}/{name}"
    for sub in folders:
        yield from stored_files(storage, f"{folder}/{sub}")


def recent(storage: Storage, name: str, grace: timedelta) -> bool:
    """Whether a file was written within `grace`: its row may not be committed yet."""
    try:
        return storage.get_modified_time(name) > timezone.now() - grace
    except (NotImplementedError, OSError):
        return False


class Command(BaseCommand):
    help = ("List images whose file or thumbnail is missing from media storage, and files in storage "
            "that no image owns. Exits with code 1 if it finds any.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--grace", type=int, default=10, metavar="MINUTES",
                            help="ignore files without a row written in the last MINUTES (default 10): "
                                 "an image being saved right now")

    def handle(self, *args, **options) -> None:
        storage = default_storage
        files = {name for folder in FOLDERS for name in stored_files(storage, folder)}
        owned: set[str] = set()
        missing: list[str] = []
        rows = Image.objects.select_related("user").only("id", "file", "thumbnail", "deleted_at", "user__username")
        count = 0
        for image in rows.iterator(chunk_size=2000):
            count += 1
            where = f"image {image.pk} of {image.user.username}{' (in the trash)' if image.deleted_at else ''}"
            for label, name in (("file", image.file.name), ("thumbnail", image.thumbnail.name)):
                if not name:
                    continue
                owned.add(name)
                if name not in files:
                    missing.append(f"  {where}: its {label} {name} is missing")
        grace = timedelta(minutes=options["grace"])
        orphans = [f"  {name}" for name in sorted(files - owned) if not recent(storage, name, grace)]
        self._report("Rows without files", missing)
        self._report("Files without rows", orphans)
        summary = (f"Checked {count} image{'s' if count != 1 else ''} and {len(files)} "
                   f"file{'s' if len(files) != 1 else ''} in {type(storage).__name__}: ")
        if missing or orphans:
            raise CommandError(summary + f"{len(missing)} missing, {len(orphans)} without a row.", returncode=1)
        self.stdout.write(summary + "every image has its files and every file its image.")

    def _report(self, title: str, lines: list[str]) -> None:
        if lines:
            self.stdout.write(f"{title} ({len(lines)}):")
            self.stdout.write("\n".join(lines))
