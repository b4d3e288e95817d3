from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from runware_web.upstream.models import COST


def _image_path(image: Image, filename: str) -> str:
    return f"images/{image.user_id}/{image.created_at:%Y/%m}/{filename}"


def _thumb_path(image: Image, filename: str) -> str:
    return f"thumbs/{image.user_id}/{image.created_at:%Y/%m}/{filename}"


class ImageQuerySet(models.QuerySet["Image"]):
    def for_user(self, user) -> ImageQuerySet:
        return self.filter(user=user)

    def visible(self) -> ImageQuerySet:
        return self.filter(deleted_at__isnull=True)

    def trashed(self) -> ImageQuerySet:
        return self.filter(deleted_at__isnull=False)


class Image(models.Model):
    """An image in the portal's own storage: generated, derived by a tool, or uploaded."""

    class Kind(models.TextChoices):
        GENERATED = "generated", "Generated"
        UPSCALED = "upscaled", "Upscaled"
        BACKGROUND_REMOVED = "background_removed", "Background removed"
        GUIDE = "guide", "ControlNet guide"
        MASK = "mask", "Mask"
        UPLOADED = "uploaded", "Uploaded"

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
    favourite = models.BooleanField(default=False)
    shared_with_team = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    deleted_at = models.DateTimeField(null=True, blank=True, help_text="Set while the image is in the trash.")

    objects = ImageQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "deleted_at", "-created_at"], name="image_user_recent"),
            models.Index(fields=["user", "favourite", "-created_at"], name="image_user_fav"),
            models.Index(fields=["user", "kind", "-created_at"], name="image_user_kind"),
            models.Index(fields=["user", "model", "-created_at"], name="image_user_model"),
            models.Index(fields=["shared_with_team", "-created_at"], name="image_shared"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} image {self.id}"

    @property
    def extension(self) -> str:
        return {"image/jpeg": "jpg", "image/webp": "webp"}.get(self.content_type, "png")
