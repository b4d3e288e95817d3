"""What happens to a streamed reply: saved as it grows, so closing the tab loses nothing.

The runner owns the stream (it outlives the socket) and calls these methods; each saves to the
reply's Message (found by its Task) and returns HTML for the member's open tabs. Once the member
pressed Stop the message is `stopped`: later chunks change nothing visible, but the usage and cost
Runware reports at the end are still saved.
"""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from runware_web.chat import fragments
from runware_web.chat.models import Message
from runware_web.runner import Handler, parse_cost
from runware_web.upstream.errors import UpstreamError
from runware_web.upstream.models import Task


class ChatHandler(Handler):
    """The runner's handler of "chat" tasks (named in settings.RUNWARE_WEB_TASK_HANDLERS)."""

    async def on_chunk(self, task: Task, text: str, reasoning: str) -> str:
        return await database_sync_to_async(_save_chunk)(task.pk, text, reasoning)

    async def on_stream_end(self, task: Task, result: Any) -> None:
        await database_sync_to_async(_save_result)(task.pk, result)

    async def on_finished(self, task: Task) -> str:
        return await database_sync_to_async(_render_ended)(task.pk)

    async def on_failed(self, task: Task, error: UpstreamError) -> str:
        return await database_sync_to_async(_save_failure)(task.pk, error)


def _save_chunk(task_id: Any, text: str, reasoning: str) -> str:
    updated = Message.objects.filter(task_id=task_id, status=Message.Status.STREAMING).update(
        content=text,
        reasoning=reasoning,
        first_token_at=Coalesce(F("first_token_at"), Value(timezone.now())),
    )
    if not updated:  # stopped, deleted, or not recorded yet: nothing to show
        return ""
    message = Message.objects.get(task_id=task_id)
    return fragments.growing(message)


def _save_result(task_id: Any, result: Any) -> None:
    usage = result.usage if isinstance(result.usage, dict) else {}
    details = usage.get("completionTokensDetails")
    numbers = {
        "prompt_tokens": _count(usage.get("promptTokens")),
        "completion_tokens": _count(usage.get("completionTokens")),
        "reasoning_tokens": _count(
            usage.get("thinkingTokens") or (details.get("reasoningTokens") if isinstance(details, dict) else None)
        ),
        "total_tokens": _count(usage.get("totalTokens")),
        "usage": usage,
        "cost": parse_cost(result.cost),
        "finish_reason": str(result.finish_reason or "")[:20],
    }
    messages = Message.objects.filter(task_id=task_id)
    messages.filter(status=Message.Status.STREAMING).update(
        content=result.text or "",
        reasoning=result.reasoning_content or "",
        status=Message.Status.DONE,
        finished_at=timezone.now(),
        first_token_at=Coalesce(F("first_token_at"), Value(timezone.now())),
        **numbers,
    )
    # Stopped by the member: keep the text they saw, record what Runware billed for.
    messages.exclude(status=Message.Status.DONE).update(**numbers)


def _save_failure(task_id: Any, error: UpstreamError) -> str:
    Message.objects.filter(task_id=task_id, status=Message.Status.STREAMING).update(
        status=Message.Status.FAILED, error=error.full_message, finished_at=timezone.now()
    )
    return _render_ended(task_id)


def _render_ended(task_id: Any) -> str:
    message = Message.objects.filter(task_id=task_id).select_related("conversation").first()
    return fragments.ended(message) if message else ""


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None
