"""What happens to an endpoint task's outcomes: each image pushed to the script's socket session
(on whichever worker holds it) in Runware's shape as soon as Runware sends it, then stored in the
member's gallery.

The image's id is chosen before it is stored (derived from the task and Runware's imageUUID, so a
worker that adopts the task, or stores it again once the disk has room, gives it the same id), and
its URL is the portal's media URL, which waits for the file (views.media). The script gets its
result without waiting for the fetch and the writes; the charge and the stored image follow as
before (runner.deliver). Results the script wants as base64 or a data URI, and results without a
Runware id, are pushed once stored, from their bytes. The socket prefixes its own address to the
item's URL. A task started over REST has no session: its request waits for the task's end and
reads the results from the database.
Texts (replies, captions, enhanced prompts) are kept as `TextOutput` rows; a streamed reply also
goes, as it grows, to the request reading it (streams.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import uuid
import weakref
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.db import transaction

from runware_web.endpoint import protocol, streams
from runware_web.endpoint.models import EndpointCall, TextOutput
from runware_web.endpoint.outputs import ENVELOPE, RUN_TASK_TYPES, Output
from runware_web.media.store import has_output, result_bytes, save_image
from runware_web.runner import Handler, parse_cost, runner
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

    def on_arrival(self, task: Task, item: dict[str, Any]) -> None:
        output = _output(task)
        call = _calls.get(task.pk)  # only a task this worker started (else on_result hands it on)
        image_id = None if output.text else _image_id(task, item, output)
        if call is None or image_id is None or call.session is None or call.output_type != "URL":
            return
        _handed_on.setdefault(task.pk, set()).add(image_id)  # before on_result can run: it stores only
        answer = protocol.early_image_item(
            image_id, task_type=task.task_type, task_uuid=str(call.client_task_uuid), prefix=output.prefix,
            extension=_extension(item, task, output), seed=item.get("seed"), nsfw=item.get("NSFWContent"),
            cost=parse_cost(item.get("cost")))
        pushing = asyncio.ensure_future(_push(call, {"type": "endpoint.result", "items": [answer]}))
        _pushing.add(pushing)
        pushing.add_done_callback(_pushing.discard)

    async def on_result(self, task: Task, item: dict[str, Any]) -> str:
        output = _output(task)
        if output.text:
            call, answer = await database_sync_to_async(_save_text_item)(task, item)
            if not output.together:
                await _push(call, {"type": "endpoint.result", "items": [answer]})
            return ""
        image_id = _image_id(task, item, output)
        try:
            data = await result_bytes(item, output.prefix)
        except Exception:
            # Billed (the charge is already in the ledger) but not fetched: the script hears of it.
            log.exception("Could not fetch the output %s of endpoint task %s", item.get(f"{output.prefix}UUID"), task.pk)
            await _tell_failed(task, NOT_STORED)  # the task goes on: what this worker knows of it stays
            return ""
        # Should storing fail (a full disk, a dropped connection), the runner keeps the result and
        # tries again (runner.deliver): the error goes to it, not to the script.
        if image_id is not None and image_id in _handed_on.get(task.pk, ()):
            # Handed on as it arrived (on_arrival): stored now, under the id the script has.
            await _store_handed_on(task, item, data, output, image_id)
            _handed_on[task.pk].discard(image_id)
            return ""
        call, answer = await database_sync_to_async(_save_image_item)(task, item, data, output, image_id)
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
        _forget(task)
        return ""

    async def on_failed(self, task: Task, error: UpstreamError) -> str:
        await _tell_failed(task, error)
        _forget(task)
        return ""

    async def is_stored(self, task: Task, item: dict[str, Any]) -> bool:
        output = _output(task)
        if output.text:
            return True  # texts are saved with their charge's task; there is no file to lose
        return await database_sync_to_async(has_output)(task.pk, str(item.get(f"{output.prefix}UUID") or ""))


async def _tell_failed(task: Task, error: UpstreamError) -> None:
    """The script hears of a failure: on its stream, and on its socket."""
    call = await _call_of(task)
    if call is not None:
        obj = protocol.from_upstream(error, task_type=task.task_type, task_uuid=str(call.client_task_uuid))
        feed = streams.feed_of(task.pk)
        if feed is not None:
            feed.put({"errors": [obj]})
        await _push(call, {"type": "endpoint.frame", "frame": {"errors": [obj]}})


def _output(task: Task) -> Output:
    return RUN_TASK_TYPES.get(task.task_type, Output())


#: Images already handed on are stored on a thread of their own: on the thread the worker's requests
#: share, each would wait behind (and hold up) the checks of the next tasks scripts start.
_STORING = ThreadPoolExecutor(max_workers=1, thread_name_prefix="runware-endpoint-store")
STORE_BATCH = 50  # images stored in one trip to that thread, at most

_Stored = tuple[Task, dict[str, Any], bytes, Output, uuid.UUID, asyncio.Future[None]]


class _Storer:
    """The images handed on in one event loop, waiting to be stored: while the storing thread is
    busy, those that arrive meanwhile wait, and all go in its next trip, in one transaction (each
    in a savepoint of its own, so that one that fails fails alone). The busier the worker, the
    fewer trips and commits per image; a lone image goes at once."""

    def __init__(self) -> None:
        self.pending: list[_Stored] = []
        self.writer: asyncio.Task[None] | None = None

    async def store(self, task: Task, item: dict[str, Any], data: bytes, output: Output, image_id: uuid.UUID) -> None:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self.pending.append((task, item, data, output, image_id, done))
        if self.writer is None:
            self.writer = loop.create_task(self._write(), context=contextvars.Context())
        await asyncio.shield(done)

    async def _write(self) -> None:
        trip: list[_Stored] = []
        try:
            while self.pending:
                trip, self.pending = self.pending[:STORE_BATCH], self.pending[STORE_BATCH:]
                try:
                    outcomes = await _save_many([(task, item, data, output, image_id)
                                                 for task, item, data, output, image_id, _ in trip])
                except Exception as exc:  # the commit itself failed: every image of the trip hears of it
                    outcomes = [exc] * len(trip)
                for entry, outcome in zip(trip, outcomes, strict=True):
                    if outcome is None:
                        entry[5].set_result(None)
                        _tell_stored(entry[4])
                    else:
                        entry[5].set_exception(outcome)
                trip = []
        finally:
            self.writer = None
            for *_, done in trip + self.pending:  # cancelled (the loop is closing)
                done.cancel()
            self.pending = []


_storers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Storer] = weakref.WeakKeyDictionary()


async def _store_handed_on(task: Task, item: dict[str, Any], data: bytes, output: Output, image_id: uuid.UUID) -> None:
    """Store an image already handed on (see _Storer); raises what storing it raised."""
    loop = asyncio.get_running_loop()
    storer = _storers.get(loop)
    if storer is None:
        storer = _storers[loop] = _Storer()
    await storer.store(task, item, data, output, image_id)


#: Who waits for an image handed on to be stored (image id → their futures): a script fetching
#: its result's URL at once (views.media), told as soon as this worker has stored it.
_awaited: dict[uuid.UUID, set[asyncio.Future[None]]] = {}


@contextlib.contextmanager
def awaiting_storage(image_id: uuid.UUID) -> Iterator[asyncio.Future[None]]:
    """While the block runs: a future set once this worker stores the image (set from whichever
    loop stores it), and the task that handed it on hurried (runner.hurry: its book-keeping starts
    at once). An image another worker stores is not told of here: its waiter looks again itself."""
    loop = asyncio.get_running_loop()
    stored: asyncio.Future[None] = loop.create_future()
    _awaited.setdefault(image_id, set()).add(stored)
    for task_id, handed_on in list(_handed_on.items()):
        if image_id in handed_on:
            runner.hurry(task_id)
    try:
        yield stored
    finally:
        waiting = _awaited.get(image_id)
        if waiting is not None:
            waiting.discard(stored)
            if not waiting:
                del _awaited[image_id]


def _tell_stored(image_id: uuid.UUID) -> None:
    for stored in _awaited.pop(image_id, ()):
        with contextlib.suppress(RuntimeError):  # its loop has closed: nobody waits any more
            stored.get_loop().call_soon_threadsafe(_settle, stored)


def _settle(stored: asyncio.Future[None]) -> None:
    if not stored.done():
        stored.set_result(None)


def _save_all(images: list[tuple[Task, dict[str, Any], bytes, Output, uuid.UUID]]) -> list[Exception | None]:
    outcomes: list[Exception | None] = []
    with transaction.atomic():
        for task, item, data, output, image_id in images:
            try:
                _save_image(task, item, data, output, image_id)  # a savepoint of its own
            except Exception as exc:
                outcomes.append(exc)
            else:
                outcomes.append(None)
    return outcomes


_save_many = database_sync_to_async(_save_all, thread_sensitive=False, executor=_STORING)

#: The EndpointCall of each task this worker started or heard of (task id → call), so that handing
#: a result on reads nothing from the database. Forgotten when the task ends; bounded, as a task
#: refused after its call was recorded never ends here.
_calls: dict[Any, EndpointCall] = {}
_CALLS_KEPT = 10_000


def remember_call(call: EndpointCall) -> None:
    """Keep a task's call for its results (services.start, once its row is written)."""
    if len(_calls) >= _CALLS_KEPT:
        _calls.pop(next(iter(_calls)))
    _calls[call.task_id] = call


async def _call_of(task: Task) -> EndpointCall | None:
    call = _calls.get(task.pk)
    if call is None:  # started on another worker (adopted after it died), or before a restart
        call = await database_sync_to_async(_call, thread_sensitive=False)(task)
        if call is not None:
            remember_call(call)
    return call


#: Images of each task handed on to the script as they arrived, not stored yet (task id → image ids).
_handed_on: dict[Any, set[uuid.UUID]] = {}
_pushing: set[asyncio.Future[None]] = set()  # pushes under way (kept so that none is collected half way)


def _forget(task: Task) -> None:
    _calls.pop(task.pk, None)
    _handed_on.pop(task.pk, None)


def _image_id(task: Task, item: dict[str, Any], output: Output) -> uuid.UUID | None:
    """The id an image is stored under, chosen before it is stored: derived from the task and
    Runware's id for it, so that every worker storing it (again) gives it the same one. None
    without a Runware id (a fresh one then)."""
    runware_uuid = item.get(f"{output.prefix}UUID")
    if not isinstance(runware_uuid, str) or not runware_uuid:
        return None
    return uuid.uuid5(task.pk, f"{output.prefix}:{runware_uuid}")


def _extension(item: dict[str, Any], task: Task, output: Output) -> str:
    """The file extension the image will be stored under, from Runware's URL or the task's outputFormat."""
    url = str(item.get(f"{output.prefix}URL") or "").split("?", 1)[0].lower()
    suffix = url.rsplit(".", 1)[-1] if "." in url.rsplit("/", 1)[-1] else ""
    suffix = {"jpeg": "jpg"}.get(suffix, suffix)
    if suffix in ("png", "jpg", "webp"):
        return suffix
    return {"JPG": "jpg", "JPEG": "jpg", "WEBP": "webp", "PNG": "png"}.get(
        str(task.params.get("outputFormat", "")).upper(), "jpg")


def _save_image(task: Task, item: dict[str, Any], data: bytes, output: Output, image_id: uuid.UUID | None = None) -> Any:
    """Store an image (its thumbnail is made when the gallery first shows it)."""
    seed, nsfw = item.get("seed"), item.get("NSFWContent")
    return save_image(
        user=task.user, data=data, kind=output.kind, task=task,
        prompt=str(task.params.get("positivePrompt", "")), model=task.model,
        seed=seed if isinstance(seed, int) and not isinstance(seed, bool) else None,
        nsfw=nsfw if isinstance(nsfw, bool) else None, cost=parse_cost(item.get("cost")),
        runware_uuid=str(item.get(f"{output.prefix}UUID") or ""), lazy_thumbnail=True, image_id=image_id,
    )


def _save_image_item(task: Task, item: dict[str, Any], data: bytes, output: Output,
                     image_id: uuid.UUID | None) -> tuple[EndpointCall | None, Any]:
    """Store an image and build the Runware item the script gets, its URL relative to the portal."""
    image = _save_image(task, item, data, output, image_id)
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


#: The sockets of each session group open on this worker (consumers.py joins and leaves): a result
#: for one of them goes to it directly, not through the channel layer (Redis in production), which
#: costs the worker more CPU than the rest of handing it on.
_local: dict[str, set[Any]] = {}


def join_locally(group: str, consumer: Any) -> None:
    _local.setdefault(group, set()).add(consumer)


def leave_locally(group: str, consumer: Any) -> None:
    sockets = _local.get(group)
    if sockets is not None:
        sockets.discard(consumer)
        if not sockets:
            del _local[group]


async def _push(call: EndpointCall | None, message: dict[str, Any]) -> None:
    """Tell the script's socket session, if the task came over a socket: directly when its socket
    is on this worker, else through the channel layer (to whichever worker holds it). The message
    carries the Runware items themselves (the socket only prefixes its address to their URLs).
    Never raises: the result is stored whatever happens, and getResponse finds it."""
    layer = get_channel_layer()
    if call is None or call.session is None or layer is None:
        return
    group = session_group(call.user_id, call.session)
    try:
        local = _local.get(group)
        if local:
            for consumer in list(local):
                await getattr(consumer, message["type"].replace(".", "_"))(message)
            return
        await layer.group_send(group, message)
    except Exception:
        log.warning("Could not push a result of endpoint task %s to its socket", call.task_id, exc_info=True)
