"""Streamed replies (textInference with deliveryMethod "stream") on their way to the script.

`POST /v1` opens a feed for the task before the runner starts it; the task runs in this same
process (the runner starts what this worker admits) and the endpoint's handler puts into the feed
what the reply grew by, then its closing event. The request reads the feed as server-sent events
until the runner's task has ended, so a task that ends any way at all (failed, cancelled, the
worker stopping) ends the response too.

The runner hands the handler the whole reply so far at most every STREAM_PUBLISH_INTERVAL (50 ms):
chunks that arrive closer together than that are sent as one event. The SDKs join the deltas, so
the text is the same.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

Event = dict[str, Any]


@dataclass
class Feed:
    task_type: str
    task_uuid: str  # the script's own taskUUID
    queue: asyncio.Queue[Event | None] = field(default_factory=asyncio.Queue)
    text_sent: int = 0
    reasoning_sent: int = 0

    def event(self, **fields: Any) -> Event:
        return {"taskType": self.task_type, "taskUUID": self.task_uuid, **fields}

    def grew(self, text: str, reasoning: str) -> None:
        """The reply so far: send what is new since the last event."""
        delta: dict[str, str] = {}
        if len(text) > self.text_sent:
            delta["text"] = text[self.text_sent:]
        if len(reasoning) > self.reasoning_sent:
            delta["reasoningContent"] = reasoning[self.reasoning_sent:]
        self.text_sent, self.reasoning_sent = len(text), len(reasoning)
        if delta:
            self.queue.put_nowait(self.event(delta=delta))

    def put(self, event: Event | None) -> None:
        self.queue.put_nowait(event)


_feeds: dict[str, Feed] = {}


def open_feed(task_id: Any, *, task_type: str, task_uuid: str) -> Feed:
    feed = Feed(task_type=task_type, task_uuid=task_uuid)
    _feeds[str(task_id)] = feed
    return feed


def feed_of(task_id: Any) -> Feed | None:
    return _feeds.get(str(task_id))


def close_feed(task_id: Any) -> None:
    _feeds.pop(str(task_id), None)


async def server_sent_events(task_id: Any, feed: Feed, ended: asyncio.Future[Any]) -> AsyncIterator[str]:
    """The feed as SSE lines until the task has ended (`ended`), then `[DONE]`.

    Everything the handler puts comes before the runner's task is done, so once `ended` is done
    the feed is read to its end and nothing is lost."""
    ended.add_done_callback(lambda _: feed.put(None))
    try:
        while (event := await feed.queue.get()) is not None:
            yield f"data: {json.dumps(event)}\n\n"
        yield "data: [DONE]\n\n"
    finally:
        close_feed(task_id)
        if not ended.done():
            ended.cancel()
