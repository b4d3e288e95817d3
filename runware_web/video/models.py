"""What the video tools make that is not a file: a video's caption (the text Runware wrote)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from runware_web.media.models import Image
from runware_web.upstream.models import Task


class VideoCaption(models.Model):
    """The caption of one of the member's videos, written by the `caption` task that asked for it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    task = models.OneToOneField(Task, on_delete=models.CASCADE, related_name="video_caption")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="video_captions"
    )
    video = models.ForeignKey(Image, on_delete=models.SET_NULL, null=True, related_name="captions")
    text = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.text[:60]
