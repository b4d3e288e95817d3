from __future__ import annotations

from django.db import models


class Generation(models.Model):
    """What the member asked the studio for, behind one task.

    `Task.params` holds the Runware parameters as sent (input images as data URIs); this keeps the
    form's own values (input images as gallery ids), so "reuse" can restore every setting.
    """

    task = models.OneToOneField(
        "upstream.Task", primary_key=True, on_delete=models.CASCADE, related_name="studio_generation"
    )
    settings = models.JSONField(default=dict, help_text="The studio form's values, named like its fields.")
    seed_image = models.ForeignKey(
        "media.Image", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="The input image of an image-to-image, inpainting or outpainting run.",
    )

    def __str__(self) -> str:
        return f"Studio generation {self.task_id}"
