"""Uploads are recognised by their content: each upload's SHA-256, filled in for the uploads already
stored, one unique upload per member and content, and an index for each of the gallery's two views:
what the portal made (the main view), and the uploads, masks and guides given to it (inputs).

The backfill reads each stored upload in 1 MiB pieces (never a whole file in memory). An upload
whose file is gone from storage keeps an empty hash, as does every later copy of a file the member
had already uploaded (so that existing duplicates stay, both of them, and the constraint holds).
"""

import hashlib

from django.conf import settings
from django.db import migrations, models

BATCH = 500
PIECE = 1024 * 1024


def file_sha256(field) -> str:
    """The SHA-256 of a stored file, read in pieces; "" when it cannot be read (gone, unreadable)."""
    digest = hashlib.sha256()
    try:
        with field.storage.open(field.name, "rb") as handle:
            while piece := handle.read(PIECE):
                digest.update(piece)
    except OSError:  # FileNotFoundError, or the storage failing to read it: left for check_media
        return ""
    return digest.hexdigest()


def hash_uploads(apps, schema_editor):
    Image = apps.get_model("media", "Image")
    seen: set[tuple[int, str]] = set()
    changed = []
    uploads = (
        Image.objects.filter(kind="uploaded", sha256="")
        .exclude(file="")
        .only("id", "user_id", "file")
        .order_by("created_at", "id")
    )
    for image in uploads.iterator(chunk_size=BATCH):
        sha256 = file_sha256(image.file)
        if not sha256 or (image.user_id, sha256) in seen:
            continue
        seen.add((image.user_id, sha256))
        image.sha256 = sha256
        changed.append(image)
        if len(changed) >= BATCH:
            Image.objects.bulk_update(changed, ["sha256"])
            changed = []
    Image.objects.bulk_update(changed, ["sha256"])


class Migration(migrations.Migration):
    dependencies = [
        ("media", "0004_media_type"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="image",
            name="sha256",
            field=models.CharField(
                blank=True,
                help_text="The stored file's SHA-256 (hex), for uploads: the same file uploaded again is recognised.",
                max_length=64,
            ),
        ),
        migrations.RunPython(hash_uploads, migrations.RunPython.noop, elidable=True),
        migrations.AddIndex(
            model_name="image",
            index=models.Index(
                condition=models.Q(
                    ("deleted_at__isnull", True),
                    models.Q(("kind__in", ("uploaded", "mask", "guide")), _negated=True),
                ),
                fields=["user", "-created_at", "-id"],
                name="image_live_results",
            ),
        ),
        migrations.AddIndex(
            model_name="image",
            index=models.Index(
                condition=models.Q(("deleted_at__isnull", True), ("kind__in", ("uploaded", "mask", "guide"))),
                fields=["user", "-created_at", "-id"],
                name="image_live_inputs",
            ),
        ),
        migrations.AddConstraint(
            model_name="image",
            constraint=models.UniqueConstraint(
                condition=models.Q(("kind", "uploaded"), models.Q(("sha256", ""), _negated=True)),
                fields=("user", "sha256"),
                name="image_upload_once",
            ),
        ),
    ]
