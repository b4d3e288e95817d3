"""What chat does, for the socket and the plain POST fallback alike.

The async functions are the entry points (they talk to the runner); the small sync functions do the
ORM work and are called through `database_sync_to_async`. A member can only reach their own
conversations: `get_own_conversation` raises Http404 for anyone else's.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from channels.db import database_sync_to_async
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import Truncator

from runware_web.accounts.models import User
from runware_web.chat.access import get_own_conversation
from runware_web.chat.models import Conversation, Message
from runware_web.chat.text_models import DEFAULT_MODEL
from runware_web.chat.turns import TooLong, fit
from runware_web.money.prices import estimate
from runware_web.runner import runner
from runware_web.upstream.errors import Refused

FEATURE = "chat"
STILL_WRITING = "A reply is still being written. Wait for it to finish, or press Stop."


class ChatError(Exception):
    """Something the member asked for cannot be done; `message` says why, `field` where."""

    def __init__(self, message: str, *, field: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True)
class Turn:
    reply: Message  # still streaming
    replaced: tuple[int, ...]  # the messages it replaces (regenerate: the reply; edit: the message on)


@dataclass(frozen=True)
class Plan:
    conversation: Conversation
    params: dict[str, Any]
    left_out: int
    estimate: Decimal
    replacing: tuple[int, ...]


# ---------------------------------------------------------------------- async entry points


async def send_message(*, user: User, conversation_id: Any, content: str, model: str = "") -> Turn:
    """Save the member's message and start the streamed reply (with `model`, when the composer
    changed it: the conversation keeps that model from this turn on)."""
    if model:
        await database_sync_to_async(_switch_model)(user, conversation_id, model)
    plan = await database_sync_to_async(_plan_turn)(user, conversation_id, content=content)
    reply = await _submit(user, plan, field="content", content=content)
    return Turn(reply=reply, replaced=())


async def edit_message(*, user: User, conversation_id: Any, message_id: Any, content: str) -> Turn:
    """Send an edited version of one of the member's messages: it and everything after it are
    replaced by the new message and a new reply (their costs stay in the ledger)."""
    plan = await database_sync_to_async(_plan_turn)(user, conversation_id, content=content, edit_of=message_id)
    reply = await _submit(user, plan, field="content", content=content)
    return Turn(reply=reply, replaced=plan.replacing)


async def regenerate(*, user: User, conversation_id: Any) -> Turn:
    """Replace the last reply with a new one, from the same conversation up to it."""
    plan = await database_sync_to_async(_plan_turn)(user, conversation_id, content=None)
    reply = await _submit(user, plan, field="", content=None)
    return Turn(reply=reply, replaced=plan.replacing)


async def stop(*, user: User, conversation_id: Any) -> Message:
    """End the reply being written. Runware still bills what it generated; the runner records it."""
    reply = await database_sync_to_async(_streaming_reply)(user, conversation_id)
    if reply is None:
        raise ChatError("No reply is being written right now.")
    if reply.task_id is not None:
        await runner.cancel(user=user, task_id=reply.task_id)  # None when it has just ended
    return await database_sync_to_async(_mark_stopped)(reply.pk)


async def delete_conversation(*, user: User, conversation_id: Any) -> None:
    """Delete a conversation, stopping a reply it is still receiving (its cost stays in the ledger)."""
    reply = await database_sync_to_async(_streaming_reply)(user, conversation_id)
    if reply is not None and reply.task_id is not None:
        await runner.cancel(user=user, task_id=reply.task_id)
    await database_sync_to_async(lambda: get_own_conversation(user, conversation_id).delete())()


async def _submit(user: User, plan: Plan, *, field: str, content: str | None) -> Message:
    """Start the reply's task; its Message is recorded before the first token can arrive."""
    recorded: list[Message] = []

    async def record_turn(task: Any) -> None:
        recorded.append(await database_sync_to_async(_record_turn)(plan, task, content=content))

    try:
        await runner.submit(
            user=user,
            feature=FEATURE,
            task_type="textInference",
            params=plan.params,
            estimated_cost=plan.estimate,
            delivery="stream",
            before_start=record_turn,
        )
    except Refused as refused:
        raise ChatError(refused.message, field=field) from None
    return recorded[0]


# ---------------------------------------------------------------------- database work (sync)


def visible_messages(conversation: Conversation) -> list[Message]:
    return list(conversation.messages.filter(replaced=False))


def settle_interrupted(conversation: Conversation) -> None:
    """A reply whose task ended without the reply being closed (its worker died mid-way) is no
    longer being written: say so, keeping what was streamed, so the conversation can go on."""
    stale = conversation.messages.filter(status=Message.Status.STREAMING).filter(
        Q(task__isnull=True) | Q(task__finished_at__isnull=False)
    ).select_related("task")
    for message in stale:
        error = (message.task.error_message if message.task else "") or (
            "The reply was interrupted before it finished. Regenerate to try again."
        )
        Message.objects.filter(pk=message.pk, status=Message.Status.STREAMING).update(
            status=Message.Status.FAILED, error=error, finished_at=timezone.now()
        )


def thread_state(conversation: Conversation) -> dict[str, Any]:
    """What the conversation page shows: its messages, and which controls apply now."""
    settle_interrupted(conversation)
    messages = visible_messages(conversation)
    last = messages[-1] if messages else None
    streaming = any(message.is_streaming for message in messages)
    return {
        "conversation": conversation,
        "chat_messages": messages,
        "streaming": streaming,
        "can_regenerate": bool(last and last.role == Message.Role.ASSISTANT and not streaming),
    }


def new_conversation(user: User) -> Conversation:
    """Reuse the member's newest conversation if it is still empty; else start one with its settings."""
    latest = Conversation.objects.for_user(user).first()
    if latest is not None and not latest.messages.exists():
        return latest
    if latest is None:
        return Conversation.objects.create(user=user, model=DEFAULT_MODEL)
    return Conversation.objects.create(
        user=user,
        model=latest.model,
        system_prompt=latest.system_prompt,
        max_tokens=latest.max_tokens,
        temperature=latest.temperature,
    )


def _switch_model(user: User, conversation_id: Any, model: str) -> None:
    conversation = get_own_conversation(user, conversation_id)
    if conversation.model != model:
        conversation.model = model
        conversation.save(update_fields=["model"])


def _plan_turn(user: User, conversation_id: Any, *, content: str | None, edit_of: Any = None) -> Plan:
    conversation = get_own_conversation(user, conversation_id)
    settle_interrupted(conversation)
    messages = visible_messages(conversation)
    if any(message.is_streaming for message in messages):
        raise ChatError(STILL_WRITING, field="content" if content is not None else "")
    replacing: tuple[int, ...] = ()
    if edit_of is not None:  # edit and resend: the edited message and everything after it go
        position = next(
            (i for i, m in enumerate(messages) if str(m.pk) == str(edit_of) and m.role == Message.Role.USER), None
        )
        if position is None:
            raise ChatError("That message is no longer in this conversation. Reload the page.", field="content")
        replacing = tuple(message.pk for message in messages[position:])
        del messages[position:]
    elif content is None:  # regenerate
        if not messages or messages[-1].role != Message.Role.ASSISTANT:
            raise ChatError("There is no reply to regenerate yet. Send a message first.")
        replacing = (messages.pop().pk,)
    history = [
        (message.role, message.content)
        for message in messages
        if message.role == Message.Role.USER
        or (message.status in {Message.Status.DONE, Message.Status.STOPPED} and message.content)
    ]
    if content is not None:
        history.append((Message.Role.USER.value, content))
    try:
        fitted = fit(
            history,
            model=conversation.model,
            system_prompt=conversation.system_prompt,
            max_tokens=conversation.max_tokens,
        )
    except TooLong as too_long:
        raise ChatError(str(too_long), field="content" if content is not None else "") from None
    settings: dict[str, Any] = {"maxTokens": conversation.max_tokens, "temperature": conversation.temperature}
    if conversation.system_prompt.strip():
        settings["systemPrompt"] = conversation.system_prompt
    params = {"model": conversation.model, "messages": fitted.messages, "settings": settings}
    return Plan(
        conversation=conversation,
        params=params,
        left_out=fitted.left_out,
        estimate=estimate("textInference", params, 1),
        replacing=replacing,
    )


def _record_turn(plan: Plan, task: Any, *, content: str | None) -> Message:
    conversation = plan.conversation
    with transaction.atomic():
        if plan.replacing:
            Message.objects.filter(pk__in=plan.replacing).update(replaced=True)
        if content is not None:
            Message.objects.create(conversation=conversation, role=Message.Role.USER, content=content)
        reply = Message.objects.create(
            conversation=conversation,
            role=Message.Role.ASSISTANT,
            status=Message.Status.STREAMING,
            model=conversation.model,
            task=task,
            left_out=plan.left_out,
        )
        conversation.updated_at = timezone.now()
        fields = ["updated_at"]
        if not conversation.title and content is not None:
            conversation.title = Truncator(" ".join(content.split())).chars(60)
            fields.append("title")
        conversation.save(update_fields=fields)
    return reply


def _streaming_reply(user: User, conversation_id: Any) -> Message | None:
    conversation = get_own_conversation(user, conversation_id)
    return conversation.messages.filter(status=Message.Status.STREAMING, replaced=False).last()


def _mark_stopped(message_id: int) -> Message:
    Message.objects.filter(pk=message_id, status=Message.Status.STREAMING).update(
        status=Message.Status.STOPPED, finished_at=timezone.now()
    )
    return Message.objects.select_related("conversation").get(pk=message_id)
