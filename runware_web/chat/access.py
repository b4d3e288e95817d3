"""Whose conversation is it: only its member's. Anyone else gets 404, over HTTP and the socket."""

from __future__ import annotations

import uuid
from typing import Any

from django.http import Http404

from runware_web.accounts.models import User
from runware_web.chat.models import Conversation


def get_own_conversation(user: User, conversation_id: Any) -> Conversation:
    try:
        return Conversation.objects.for_user(user).get(pk=uuid.UUID(str(conversation_id)))
    except (Conversation.DoesNotExist, ValueError, TypeError, AttributeError):
        raise Http404("No such conversation.") from None


def get_conversation_of_task(user: User, task_id: Any) -> Conversation:
    """The member's conversation holding the reply a task produced (links from History)."""
    try:
        return Conversation.objects.for_user(user).get(messages__task_id=uuid.UUID(str(task_id)))
    except (Conversation.DoesNotExist, ValueError, TypeError, AttributeError):
        raise Http404("No conversation holds that task.") from None
