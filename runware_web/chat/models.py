from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from runware_web.accounts.models import User
from runware_web.chat.text_models import DEFAULT_MODEL
from runware_web.lib.money import COST


class ConversationQuerySet(models.QuerySet["Conversation"]):
    def for_user(self, user: User) -> ConversationQuerySet:
        return self.filter(user=user)


class Conversation(models.Model):
    """A member's conversation with one text model; its settings apply to every turn."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversations")
    title = models.CharField(max_length=120, blank=True)
    model = models.CharField(max_length=200, default=DEFAULT_MODEL, help_text="The text model's AIR.")
    system_prompt = models.TextField(blank=True)
    max_tokens = models.PositiveIntegerField(default=1024)
    temperature = models.FloatField(default=1.0)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = ConversationQuerySet.as_manager()

    class Meta:
        ordering = ["-updated_at"]
        indexes = [models.Index(fields=["user", "-updated_at"], name="chat_conversation_recent")]

    def __str__(self) -> str:
        return self.display_title

    def get_absolute_url(self) -> str:
        return reverse("chat:conversation", args=[self.pk])

    @property
    def display_title(self) -> str:
        return self.title or "New conversation"


class Message(models.Model):
    """One turn. An assistant message is filled in by its Task's stream, chunk by chunk."""

    class Role(models.TextChoices):
        USER = "user", "You"
        ASSISTANT = "assistant", "Assistant"

    class Status(models.TextChoices):
        STREAMING = "streaming", "Writing…"
        DONE = "done", "Done"
        STOPPED = "stopped", "Stopped"
        FAILED = "failed", "Failed"

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    role = models.CharField(max_length=10, choices=Role.choices)
    content = models.TextField(blank=True)
    reasoning = models.TextField(blank=True, help_text="The model's reasoning (thinking), when it sends it.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DONE)
    model = models.CharField(max_length=200, blank=True)
    task = models.OneToOneField(
        "upstream.Task", null=True, blank=True, on_delete=models.SET_NULL, related_name="chat_message"
    )
    prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    reasoning_tokens = models.PositiveIntegerField(null=True, blank=True)
    total_tokens = models.PositiveIntegerField(null=True, blank=True)
    usage = models.JSONField(default=dict, blank=True, help_text="Runware's usage object, as reported.")
    cost = models.DecimalField(**COST, null=True, blank=True, help_text="As Runware reported it.")
    finish_reason = models.CharField(max_length=20, blank=True)
    error = models.TextField(blank=True)
    left_out = models.PositiveIntegerField(
        default=0, help_text="Older messages left out of this turn to fit the model's limit."
    )
    replaced = models.BooleanField(default=False, help_text="A regenerated reply took its place.")
    created_at = models.DateTimeField(default=timezone.now)
    first_token_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["conversation", "created_at"], name="chat_message_order")]

    def __str__(self) -> str:
        return f"{self.role}: {self.content[:40]}"

    @property
    def dom_id(self) -> str:
        return f"msg-{self.pk}"

    @property
    def is_streaming(self) -> bool:
        return self.status == self.Status.STREAMING

    @property
    def first_token_seconds(self) -> float | None:
        if self.first_token_at:
            return (self.first_token_at - self.created_at).total_seconds()
        return None

    @property
    def total_seconds(self) -> float | None:
        if self.finished_at:
            return (self.finished_at - self.created_at).total_seconds()
        return None
