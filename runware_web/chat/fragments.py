"""What the chat socket pushes: partials of the conversation page ("chat/conversation.html#thread").

htmx swaps each top-level element in by its id; the template says which regions go together. Sync
functions (they may query): call them inside `database_sync_to_async`. Everything goes through the
template, so user and model text is escaped (model text is rendered by `markdown.render_markdown`).
"""

from __future__ import annotations

from typing import Any

from django.template.loader import render_to_string

from runware_web.accounts.models import User
from runware_web.chat.forms import EditForm, MessageForm, SettingsForm
from runware_web.chat.models import Conversation, Message
from runware_web.chat.services import thread_state

PAGE = "chat/conversation.html"


def _render(partial: str, context: dict[str, Any]) -> str:
    return render_to_string(f"{PAGE}#{partial}", context)


def thread(conversation: Conversation) -> str:
    """The whole conversation and the controls that apply now (on connect)."""
    return _render("snapshot", thread_state(conversation))


def turn_started(conversation: Conversation, *, new: int, removed: tuple[int, ...] = ()) -> str:
    """The newest `new` messages appended to the thread (and a replaced reply removed), with the
    controls. The rest of the thread is left as it is, so a reasoning fold the member opened stays open."""
    return _render("appended", _turn(conversation, new=new, removed=removed))


def sent(user: User, conversation: Conversation) -> str:
    """The member's message and the reply's start appended, the composer emptied, the sidebar updated."""
    conversation.refresh_from_db()  # sending gave it a title, and made it the newest
    context = {
        **_turn(conversation, new=2, removed=()),
        "form": MessageForm.for_conversation(conversation),
        "conversations": list(Conversation.objects.for_user(user)),
        "current": conversation,
    }
    return _render("sent", context)


def composer_field(conversation: Conversation, form: MessageForm) -> str:
    return _render("composer-field", {"conversation": conversation, "form": form})


def edit_form(conversation: Conversation, form: EditForm) -> str:
    """An edit that could not be sent: the edit form again, with what was typed and the reason."""
    context = {
        "conversation": conversation,
        "message_id": form.data.get("message"),
        "edit_text": form.data.get("content", ""),
        "edit_form": form,
    }
    return _render("message-edit", context)


def settings_form(conversation: Conversation, form: SettingsForm | None = None, *, saved: bool = False) -> str:
    """The settings form (with its errors, or saved) and the model named in the page's head."""
    form = form or SettingsForm.for_conversation(conversation)
    return _render("settings-answer", {"conversation": conversation, "settings_form": form, "saved": saved})


def growing(message: Message) -> str:
    """A reply that grew: its text, and its reasoning when there is some."""
    return _render("grown", {"message": message})


def ended(message: Message) -> str:
    """A reply that ended (done, stopped, failed): final text, reasoning, its numbers and the controls.

    The message's <li> is not replaced, so a reasoning fold the member opened stays open.
    """
    return _render("ended", {**thread_state(message.conversation), "message": message})


def _turn(conversation: Conversation, *, new: int, removed: tuple[int, ...]) -> dict[str, Any]:
    state = thread_state(conversation)
    # The empty-state note is still on the page only when these are the thread's first messages (an
    # edit of the first message replaces messages that were shown: the note is long gone).
    first_turn = len(state["chat_messages"]) == new and not removed
    return {**state, "chat_messages": state["chat_messages"][-new:], "removed": removed, "first_turn": first_turn}
