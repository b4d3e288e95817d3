"""HTML fragments the chat socket pushes; htmx swaps each top-level element in by its id.

Sync functions (they may query): call them inside `database_sync_to_async`. Everything goes through
templates, so user and model text is escaped (model text is rendered by `markdown.render_markdown`).
"""

from __future__ import annotations

from typing import Any

from django.template.loader import render_to_string

from runware_web.chat.forms import MessageForm, SettingsForm
from runware_web.chat.models import Conversation, Message
from runware_web.chat.services import thread_state

PARTS = "chat/parts.html"


def _part(name: str, context: dict[str, Any]) -> str:
    return render_to_string(f"{PARTS}#{name}", context)


def thread(conversation: Conversation) -> str:
    """The whole conversation and the controls that apply now (on connect, send, regenerate)."""
    state = thread_state(conversation)
    return _part("thread", state) + _part("actions", state)


def turn_started(conversation: Conversation, *, new: int, removed: tuple[int, ...] = ()) -> str:
    """The newest `new` messages appended to the thread (and a replaced reply removed), with the
    controls. The rest of the thread is left as it is, so a reasoning fold the member opened stays open."""
    state = thread_state(conversation)
    first_turn = len(state["chat_messages"]) == new  # the empty-state note is still on the page
    context = {**state, "chat_messages": state["chat_messages"][-new:], "removed": removed, "first_turn": first_turn}
    return _part("appended", context) + _part("actions", state) + _part("title", state)


def actions(conversation: Conversation) -> str:
    return _part("actions", thread_state(conversation))


def composer_field(conversation: Conversation, form: MessageForm | None = None) -> str:
    return _part("composer-field", {"conversation": conversation, "form": form or MessageForm()})


def settings_form(conversation: Conversation, form: SettingsForm | None = None, *, saved: bool = False) -> str:
    form = form or SettingsForm.for_conversation(conversation)
    return _part("settings", {"conversation": conversation, "settings_form": form, "saved": saved}) + _part(
        "model-label", {"conversation": conversation}
    )


def sidebar(user: Any, current: Conversation | None) -> str:
    conversations = list(Conversation.objects.for_user(user))
    return _part("sidebar", {"conversations": conversations, "current": current})


def growing(message: Message) -> str:
    """A reply that grew: its text, and its reasoning when there is some."""
    html = _part("message-body", {"message": message})
    if message.reasoning:
        html += _part("message-reasoning", {"message": message})
    return html


def ended(message: Message) -> str:
    """A reply that ended (done, stopped, failed): final text, reasoning, its numbers and the controls.

    The message's <li> is not replaced, so a reasoning fold the member opened stays open.
    """
    html = _part("message-body", {"message": message}) + _part("message-reasoning", {"message": message})
    return html + _part("message-meta", {"message": message}) + actions(message.conversation)
