"""A streamed task (textInference over SSE): the reply is published as it grows, then charged once.

Chunks arrive far faster than pages need them: the text received so far is published at most
every STREAM_PUBLISH_INTERVAL seconds, and once more at the end, whatever happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from django.conf import settings
from runware import StreamOptions

from runware_web.runner import state
from runware_web.runner.deliver import fail, finish, prepare, record
from runware_web.runner.handlers import Handler
from runware_web.runner.outcomes import handled, parse_cost
from runware_web.runner.publish import publish
from runware_web.upstream.client import shared_client
from runware_web.upstream.errors import from_sdk
from runware_web.upstream.models import Task

log = logging.getLogger(__name__)

STREAM_PUBLISH_INTERVAL = 0.05  # seconds between two published chunks of a streamed reply


class _Reply:
    """The reply received so far, and when the member's tabs last saw it."""

    def __init__(self, task: Task, handler: Handler) -> None:
        self.task, self.handler = task, handler
        self.text: list[str] = []
        self.reasoning: list[str] = []
        self.last_publish = 0.0

    async def grew(self, final: bool = False) -> None:
        now = asyncio.get_running_loop().time()
        if not final and now - self.last_publish < STREAM_PUBLISH_INTERVAL:
            return
        self.last_publish = now
        task = self.task
        html = await handled(self.handler.on_chunk(task, "".join(self.text), "".join(self.reasoning)))
        await publish(task.user_id, task.feature, task.pk, html)

    async def read(self, stream: Any) -> Any:
        """Read the stream's text and reasoning side by side to the end; its TextStreamResult."""
        reasoning_reader = asyncio.ensure_future(self._read_reasoning(stream))
        try:
            async for piece in stream.text_stream:
                self.text.append(piece)
                await self.grew()
        finally:
            with contextlib.suppress(Exception):
                await reasoning_reader
        return await stream.result()

    async def _read_reasoning(self, stream: Any) -> None:
        async for piece in stream.reasoning_stream:
            self.reasoning.append(piece)
            await self.grew()


async def execute_stream(run: state.Run, task: Task) -> None:
    prepared = await prepare(task)
    if prepared is None:
        return
    handler, params = prepared
    payload = {**params, "taskType": task.task_type, "taskUUID": str(task.pk), "includeCost": True}
    reply = _Reply(task, handler)
    try:
        client = await shared_client()
        stream = await client.stream(payload, StreamOptions(timeout=int(settings.RUNWARE_TIMEOUT * 1000)))
        result = await reply.read(stream)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        await reply.grew(final=True)
        await fail(task, handler, from_sdk(exc))
        return
    await reply.grew(final=True)
    await record(task, [("stream", parse_cost(result.cost))])
    try:
        await handler.on_stream_end(task, result)
    except Exception:
        log.exception("Saving the streamed reply of task %s failed", task.pk)
    await finish(task, handler)
