"""What the tools remember: which image a tool ran on, and the texts Runware wrote back.

Images a tool makes are ordinary gallery `Image` rows (linked with `source=` and `task=`); the
captions and enhanced prompts live here so that they can be listed and reused later.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from runware_web.lib.money import COST


class ToolRun(models.Model):
    """One run of a tool: a Task of feature "tools", and the image it was run on."""

    class Tool(models.TextChoices):
        # Values are Runware's task types, so a Task's `task_type` names its tool.
        ENHANCE = "promptEnhance", "Prompt enhancement"
        CAPTION = "caption", "Caption"
        UPSCALE = "upscale", "Upscale"
        REMOVE_BACKGROUND = "removeBackground", "Background removal"
        PREPROCESS = "controlNetPreprocess", "ControlNet guide"
        MASK = "imageMasking", "Mask"

    task = models.OneToOneField(
        "upstream.Task", primary_key=True, on_delete=models.CASCADE, related_name="tool_run"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tool_runs")
    tool = models.CharField(max_length=30, choices=Tool.choices)
    source = models.ForeignKey(
        "media.Image", null=True, blank=True, on_delete=models.SET_NULL, related_name="tool_runs",
        help_text="The image the tool ran on (none for prompt enhancement).",
    )
    prompt = models.TextField(blank=True, help_text="The prompt that was enhanced.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["user", "source", "-created_at"], name="toolrun_user_source"),
        ]

    def __str__(self) -> str:
        return f"{self.get_tool_display()} {self.task_id}"


class TextResult(models.Model):
    """A text a tool returned: a caption of an image, or one version of an enhanced prompt."""

    task = models.ForeignKey("upstream.Task", on_delete=models.CASCADE, related_name="text_results")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="text_results")
    source = models.ForeignKey(
        "media.Image", null=True, blank=True, on_delete=models.SET_NULL, related_name="text_results",
        help_text="The image a caption describes.",
    )
    index = models.PositiveIntegerField(default=0, help_text="Arrival order within the task.")
    text = models.TextField()
    cost = models.DecimalField(**COST, null=True, blank=True, help_text="As Runware reported it for this item.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["task", "index"]
        constraints = [
            models.UniqueConstraint(fields=["task", "index"], name="textresult_once_per_index"),
        ]

    def __str__(self) -> str:
        return self.text[:60]
