"""What happens to an endpoint task's outcomes: each image stored in the member's gallery, then
pushed to the script's socket session (on whichever worker holds it), in Runware's shape.

The message to the session names the task and the stored image; the socket builds the Runware
item itself (its URL is the portal's address as the script reached it). A task started over REST
has no session: its request waits for the task's end and reads the results from the database.
Texts (replies, captions, enhanced prompts) are kept as `TextOutput` rows; a streamed reply also
goes, as it grows, to the request reading it (streams.py).
"""

from __future__ import annotations

import logging
from typing import Any

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from runware_web.endpoint import protocol, streams
from runware_web.endpoint.models import EndpointCall, TextOutput
from runware_web.endpoint.outputs import ENVELOPE, RUN_TASK_TYPES, Output
from runware_web.media.store import has_output, result_bytes, save_image
from runware_web.runner import Handler, parse_cost
from runware_web.upstream.errors import UpstreamError
from runware_web.upstream.models import Task

log = logging.getLogger(__name__)

NOT_STORED = UpstreamError(
    code="provider",
    message="Runware made this image but the portal could not store it. It was billed; see your History.",
)


def session_group(user_id: int, session: Any) -> str:
    """The channel-layer group of one socket session of a member (a resumed socket rejoins it)."""
    return f"endpoint.{user_id}.{session.hex if hasattr(session, 'hex') else session}"


class EndpointHandler(Handler):
    """The runner's handler of "endpoint" tasks (named in settings.RUNWARE_WEB_TASK_HANDLERS)."""

    async def on_result(self, task: Task, item: dict[str, Any]) -> str:
        output = _output(task)
        if output.text:
            call, answer = await database_sync_to_async(_save_text_item)(task, item)
            if not output.together:
                await _push(call, {"type": "endpoint.result", "items": [answer]})
            return ""
        try:
            data = await result_bytes(item, output.prefix)
        except Exception:
            # Billed (the charge is already in the ledger) but not fetched: the script hears of it.
            log.exception("Could not fetch the output %s of endpoint task %s", item.get(f"{output.prefix}UUID"), task.pk)
            await self.on_failed(task, NOT_STORED)
            return ""
        # Should storing fail (a full disk, a dropped connection), the runner keeps the result and
        # tries again (runner.deliver): the error goes to it, not to the script.
        call, answer = await database_sync_to_async(_save_image_item)(task, item, data, output)
        await _push(call, {"type": "endpoint.result", "items": [answer]})
        return ""

    async def on_chunk(self, task: Task, text: str, reasoning: str) -> str:
        feed = streams.feed_of(task.pk)
        if feed is not None:
            feed.grew(text, reasoning)
        return ""

    async def on_stream_end(self, task: Task, result: Any) -> None:
        item: dict[str, Any] = {"text": result.text, "finishReason": result.finish_reason}
        if result.reasoning_content:
            item["reasoningContent"] = result.reasoning_content
        if result.usage is not None:
            item["usage"] = result.usage
        if result.cost is not None:
            item["cost"] = result.cost
        await database_sync_to_async(_save_text)(task, item)
        feed = streams.feed_of(task.pk)
        if feed is not None:
            feed.put(feed.event(delta={}, **{name: value for name, value in item.items() if name != "text"
                                              and name != "reasoningContent"}))

    async def on_finished(self, task: Task) -> str:
        if _output(task).together:
            call, answers = await database_sync_to_async(_text_items)(task)
            await _push(call, {"type": "endpoint.result", "items": answers})
        return ""

    async def on_failed(self, task: Task, error: UpstreamError) -> str:
        call = await database_sync_to_async(_call)(task)
        if call is not None:
            obj = protocol.from_upstream(error, task_type=task.task_type, task_uuid=str(call.client_task_uuid))
            feed = streams.feed_of(task.pk)
            if feed is not None:
                feed.put({"errors": [obj]})
            await _push(call, {"type": "endpoint.frame", "frame": {"errors": [obj]}})
        return ""

    async def is_stored(self, task: Task, item: dict[str, Any]) -> bool:
        output = _output(task)
        if output.text:
            return True  # texts are saved with their charge's task; there is no file to lose
        return await database_sync_to_async(has_output)(task.pk, str(item.get(f"{output.prefix}UUID") or ""))


def _output(task: Task) -> Output:
    return RUN_TASK_TYPES.get(task.task_type, Output())


def _save_image_item(task: Task, item: dict[str, Any], data: bytes, output: Output) -> tuple[EndpointCall | None, Any]:
    """Store an image (its thumbnail is made when the gallery first shows it: the script waits
    for this) and build the Runware item the script gets, its URL relative to the portal."""
    seed, nsfw = item.get("seed"), item.get("NSFWContent")
    image = save_image(
        user=task.user, data=data, kind=output.kind, task=task,
        prompt=str(task.params.get("positivePrompt", "")), model=task.model,
        seed=seed if isinstance(seed, int) and not isinstance(seed, bool) else None,
        nsfw=nsfw if isinstance(nsfw, bool) else None, cost=parse_cost(item.get("cost")),
        runware_uuid=str(item.get(f"{output.prefix}UUID") or ""), lazy_thumbnail=True,
    )
    call = _call(task)
    if call is None:
        return None, None
    return call, protocol.image_item(image, task_type=task.task_type, task_uuid=str(call.client_task_uuid),
                                     output_type=call.output_type, base_url="", prefix=output.prefix, data=data)


def _save_text_item(task: Task, item: dict[str, Any]) -> tuple[EndpointCall | None, Any]:
    stored = _save_text(task, item)
    call = _call(task)
    if call is None:
        return None, None
    return call, protocol.text_item(stored.item, task_type=task.task_type, task_uuid=str(call.client_task_uuid))


def _text_items(task: Task) -> tuple[EndpointCall | None, list[dict[str, Any]]]:
    call = _call(task)
    if call is None:
        return None, []
    return call, [protocol.text_item(text.item, task_type=task.task_type, task_uuid=str(call.client_task_uuid))
                  for text in TextOutput.objects.filter(task=task)]


def _save_text(task: Task, item: dict[str, Any]) -> TextOutput:
    """Keep a text result as Runware sent it; at its resultIndex when it has one (a recovered
    task may hand the same result on twice: it is kept once)."""
    index = item.get("resultIndex")
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        index = TextOutput.objects.filter(task=task).count()
    kept = {name: value for name, value in item.items() if name not in ENVELOPE}
    stored, _ = TextOutput.objects.get_or_create(task=task, index=index, defaults={"item": kept})
    return stored


def _call(task: Task) -> EndpointCall | None:
    return EndpointCall.objects.filter(task_id=task.pk).first()


async def _push(call: EndpointCall | None, message: dict[str, Any]) -> None:
    """Tell the script's socket session, if the task came over a socket. The message carries the
    Runware items themselves (the socket only prefixes its address to their URLs). Never raises:
    the result is stored whatever happens, and getResponse finds it."""
    layer = get_channel_layer()
    if call is None or call.session is None or layer is None:
        return
    try:
        await layer.group_send(session_group(call.user_id, call.session), message)
    except Exception:
        log.warning("Could not push a result of endpoint task %s to its socket", call.task_id, exc_info=True)
