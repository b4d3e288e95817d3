from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from runware_web.accounts.models import User
from runware_web.lib.money import COST


def _image_path(image: Image, filename: str) -> str:
    return f"images/{image.user_id}/{image.created_at:%Y/%m}/{filename}"


def _thumb_path(image: Image, filename: str) -> str:
    return f"thumbs/{image.user_id}/{image.created_at:%Y/%m}/{filename}"


_LIVE = Q(deleted_at__isnull=True)
_TRASHED = Q(deleted_at__isnull=False)
#: What a member gave the portal to work from, rather than what it made: kept out of the gallery's
#: main view unless asked for (see `ImageQuerySet.results`).
INPUT_KINDS = ("uploaded", "mask", "guide")
_RESULT = ~Q(kind__in=INPUT_KINDS)


class ImageQuerySet(models.QuerySet["Image"]):
    def for_user(self, user: User) -> ImageQuerySet:
        return self.filter(user=user)

    def visible(self) -> ImageQuerySet:
        return self.filter(deleted_at__isnull=True)

    def trashed(self) -> ImageQuerySet:
        return self.filter(deleted_at__isnull=False)

    def results(self) -> ImageQuerySet:
        """What the portal made (generated, upscaled…), not the uploads, masks and guides given to it."""
        return self.filter(_RESULT)

    def inputs(self) -> ImageQuerySet:
        return self.filter(kind__in=INPUT_KINDS)


class Image(models.Model):
    """An image in the portal's own storage: generated, derived by a tool, or uploaded."""

    class Kind(models.TextChoices):
        GENERATED = "generated", "Generated"
        UPSCALED = "upscaled", "Upscaled"
        BACKGROUND_REMOVED = "background_removed", "Background removed"
        GUIDE = "guide", "ControlNet guide"
        MASK = "mask", "Mask"
        UPLOADED = "uploaded", "Uploaded"

    class MediaType(models.TextChoices):
        """What the file is (`kind` says how it was made): the gallery filters by it."""

        IMAGE = "image", "Image"
        VIDEO = "video", "Video"
        AUDIO = "audio", "Audio"
        MODEL_3D = "3d", "3D model"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="images")
    task = models.ForeignKey(
        "upstream.Task", null=True, blank=True, on_delete=models.SET_NULL, related_name="images"
    )
    source = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="derived",
        help_text="The image this one was made from (upscale, background removal…).",
    )
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.GENERATED)
    media_type = models.CharField(max_length=10, choices=MediaType.choices, default=MediaType.IMAGE)
    duration = models.FloatField(null=True, blank=True, help_text="Seconds, for a video or audio clip.")
    file = models.FileField(upload_to=_image_path, max_length=255)
    thumbnail = models.FileField(upload_to=_thumb_path, max_length=255, blank=True)
    content_type = models.CharField(max_length=50, default="image/png")
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    size_bytes = models.PositiveIntegerField(default=0)
    prompt = models.TextField(blank=True)
    model = models.CharField(max_length=200, blank=True)
    seed = models.BigIntegerField(null=True, blank=True)
    nsfw = models.BooleanField(null=True, blank=True)
    cost = models.DecimalField(**COST, null=True, blank=True)
    runware_uuid = models.CharField(max_length=64, blank=True, help_text="Runware's imageUUID.")
    original_name = models.CharField(max_length=255, blank=True)
    sha256 = models.CharField(
        max_length=64, blank=True,
        help_text="The stored file's SHA-256 (hex), for uploads: the same file uploaded again is recognised.",
    )
    favourite = models.BooleanField(default=False)
    shared_with_team = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    deleted_at = models.DateTimeField(null=True, blank=True, help_text="Set while the image is in the trash.")

    objects = ImageQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        # The gallery pages by (created_at, id), newest first (keyset, see lib.paging), over
        # images not in the trash: each index below serves one filter in that order, so a page
        # reads its 48 rows and stops, whatever the size of the table (benchmarks/gallery.py).
        indexes = [
            models.Index(fields=["user", "-created_at", "-id"], name="image_live_recent", condition=_LIVE),
            models.Index(fields=["user", "model", "-created_at", "-id"], name="image_live_model", condition=_LIVE),
            models.Index(fields=["user", "kind", "-created_at", "-id"], name="image_live_kind", condition=_LIVE),
            models.Index(
                fields=["user", "-created_at", "-id"], name="image_live_fav", condition=_LIVE & Q(favourite=True)
            ),
            models.Index(
                fields=["-created_at", "-id"], name="image_live_shared", condition=_LIVE & Q(shared_with_team=True)
            ),
            models.Index(
                fields=["user", "-created_at", "-id"], name="image_live_results", condition=_LIVE & _RESULT
            ),
            models.Index(
                fields=["user", "-created_at", "-id"], name="image_live_inputs",
                condition=_LIVE & Q(kind__in=INPUT_KINDS),
            ),
            models.Index(fields=["user", "-created_at", "-id"], name="image_trash_recent", condition=_TRASHED),
            models.Index(fields=["deleted_at"], name="image_trash_expiry", condition=_TRASHED),
        ]
        constraints = [
            # One stored copy of each file a member uploads (an upload of the same file again is
            # handed the existing one: media.store.save_upload). Masks and guides are not included:
            # a painted mask is saved with the image it masks.
            models.UniqueConstraint(
                fields=["user", "sha256"], name="image_upload_once",
                condition=Q(kind="uploaded") & ~Q(sha256=""),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} image {self.id}"

    @property
    def summary(self) -> str:
        """The prompt, cut to a caption's length (or what the image is, when it has none)."""
        if not self.prompt:
            return self.original_name or self.get_kind_display()
        return self.prompt if len(self.prompt) <= 100 else self.prompt[:99].rstrip() + "…"

    @property
    def extension(self) -> str:
        return {"image/jpeg": "jpg", "image/webp": "webp", "video/mp4": "mp4", "video/webm": "webm",
                "video/quicktime": "mov", "audio/mpeg": "mp3", "audio/wav": "wav", "audio/ogg": "ogg",
                "audio/flac": "flac", "model/gltf-binary": "glb"}.get(self.content_type, "png")

    @property
    def is_video(self) -> bool:
        return self.media_type == self.MediaType.VIDEO

    @property
    def is_input(self) -> bool:
        return self.kind in INPUT_KINDS


class PendingResult(models.Model):
    """A result Runware made and billed that could not be stored yet (the disk where media go was
    full): the item as Runware sent it (its URL, or its bytes), kept until a worker stores it.

    The charge is already in the ledger; storing it later charges nothing. Every worker retries the
    rows that are due, each claiming a row with a conditional update (`media.pending.claim`) so that
    two workers never store the same result.
    """

    task = models.ForeignKey("upstream.Task", on_delete=models.CASCADE, related_name="pending_results")
    result_key = models.CharField(max_length=64, help_text="Which output of the task (as the ledger names it).")
    item = models.JSONField(help_text="The result as Runware sent it: its URL (or bytes), seed, cost…")
    created_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_by = models.CharField(max_length=64, blank=True, help_text="The worker storing it right now.")
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["task", "result_key"], name="pending_result_once"),
        ]
        indexes = [models.Index(fields=["next_attempt_at"], name="pending_result_due")]

    def __str__(self) -> str:
        return f"Result {self.result_key} of task {self.task_id}, waiting to be stored"
