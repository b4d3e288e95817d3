"""Task execution shared by both transports: preparation (validation, pricing), running
with simulated latency, charging, and the records behind getResponse/getTaskDetails.

Transports call `submit()` then `run()` (or `stream()` for SSE), passing a Listener
that learns about results as they are produced.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import os
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Any, Protocol, TypeVar
from urllib.parse import urlparse

from PIL import Image

from . import catalog, imaging, video
from .directives import NONE, Directives
from .errors import SimError, invalid
from .pricing import to_json_number
from .store import IMAGE_CACHE_PIXELS, LRU, Job, JobStore, Ledger, MediaStore, StoredFile, pixels
from .text import Reply, stream_pieces

log = logging.getLogger(__name__)

_T = TypeVar("_T")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_DATA_URI = re.compile(r"data:(?P<mime>[\w/+.-]+)?(?:;[\w=-]+)*;base64,(?P<data>.*)", re.DOTALL)
MAX_INPUT_SIDE = 4096
ENCODED_CACHE_BYTES = 64 * 1024 * 1024
OUTPUT_TYPES = ("URL", "base64Data", "dataURI")
_STREAM_FAIL_AFTER_CHUNKS = 3


@dataclass(frozen=True)
class Output:
    """One finished result: its fields (without taskType/taskUUID/cost) and its price."""

    fields: dict[str, object]
    cost: Decimal


@dataclass
class Work:
    """A validated task, ready to run: how many results, how to make each, what it may cost."""

    task_type: str
    task_uuid: str
    placeholders: list[dict[str, object]]
    produce: Callable[[int], Awaitable[Output]]
    estimate: Decimal
    directives: Directives = NONE
    atomic: bool = False  # all results appear together (promptEnhance versions, multi-image captions)
    reply: Reply | None = None  # textInference: what a stream sends
    latency: float | None = None  # the model's nominal seconds (video, audio, 3D), scaled by media_latency_scale


@dataclass(frozen=True)
class OutputOptions:
    types: tuple[str, ...] = ("URL",)
    format: str = "JPG"
    quality: int = 95


class Listener(Protocol):
    def on_results(self, job: Job, items: list[dict[str, object]]) -> None: ...

    def on_failure(self, job: Job, error: SimError) -> None: ...


class NullListener:
    def on_results(self, job: Job, items: list[dict[str, object]]) -> None:
        return None

    def on_failure(self, job: Job, error: SimError) -> None:
        return None


# What validates a task of one type and plans its work (tasks.BUILDERS maps each taskType to one).
Builder = Callable[["Engine", dict[str, Any], str], Awaitable[Work]]


class Engine:
    def __init__(
        self, *, builders: Mapping[str, Builder], latency: float, stream_chunk_delay: float,
        starting_balance: Decimal, media_latency_scale: float = 1.0,
    ) -> None:
        self.builders = builders  # taskType → what validates and plans it (tasks.BUILDERS)
        self.latency = latency
        self.stream_chunk_delay = stream_chunk_delay
        self.media_latency_scale = media_latency_scale  # × each media model's nominal latency
        self.media = MediaStore()
        self.jobs = JobStore()
        self.ledger = Ledger(starting_balance)
        self.api_key_requests: dict[str, int] = {}
        self.enhance_offsets: dict[str, int] = {}
        self._renders: LRU[Image.Image] = LRU(IMAGE_CACHE_PIXELS, pixels)
        self._encoded: LRU[bytes] = LRU(ENCODED_CACHE_BYTES, len)
        self._probes: dict[object, video.VideoInfo] = {}
        self._executor = ThreadPoolExecutor(
            max_workers=min(8, (os.cpu_count() or 2) + 2), thread_name_prefix="runware-sim"
        )
        self._tasks: set[asyncio.Task[None]] = set()

    # ----------------------------------------------------------------- plumbing

    async def blocking(self, function: Callable[..., _T], *args: Any) -> _T:
        """Run Pillow work off the event loop."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, partial(function, *args))

    def spawn(self, coroutine: Awaitable[None]) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._executor.shutdown(wait=False, cancel_futures=True)

    def prune(self) -> None:
        now = time.monotonic()
        self.jobs.prune(now)
        self.media.prune(now)
        self._probes = {k: v for k, v in self._probes.items() if self.media.get(k[1]) is not None}

    def note_api_key(self, api_key: str) -> None:
        self.api_key_requests[api_key] = self.api_key_requests.get(api_key, 0) + 1

    # ----------------------------------------------------------------- inputs

    async def resolve_image(
        self, reference: object, parameter: str, base_url: str
    ) -> tuple[str, Image.Image]:
        """An input image given as UUID, simulator URL, data URI or base64 → (its UUID, decoded image)."""
        if not isinstance(reference, str) or not reference.strip():
            raise invalid(parameter, f"'{parameter}' must be an image UUID, URL, data URI or base64 string.")
        reference = reference.strip()
        if _UUID.fullmatch(reference):
            return await self._stored_image(reference, parameter)
        if reference.startswith(("http://", "https://")):
            return await self._image_from_url(reference, parameter)
        data, _ = decode_inline(reference, parameter)
        image = await self._decode(data, parameter)
        stored = self.media.put_deduplicated(data, *imaging.detect_format(data))
        self.media.cache_image(stored.uuid, image)
        return stored.uuid, image

    async def _stored_image(self, file_uuid: str, parameter: str) -> tuple[str, Image.Image]:
        stored = self.media.get(file_uuid)
        if stored is None or not stored.is_image:
            raise invalid(parameter, f"Unknown image UUID '{file_uuid}' in '{parameter}'.")
        return file_uuid, await self.load_image(stored, parameter)

    async def load_image(self, stored: StoredFile, parameter: str) -> Image.Image:
        image = self.media.cached_image(stored.uuid)
        if image is None:
            image = await self._decode(stored.data, parameter)
            self.media.cache_image(stored.uuid, image)
        return image

    async def _image_from_url(self, url: str, parameter: str) -> tuple[str, Image.Image]:
        path = urlparse(url).path
        hero = re.fullmatch(r"/hero/(?P<slug>[a-z0-9-]+)\.jpg", path)
        if hero:
            model = catalog.get_model_by_slug(hero.group("slug"))
            if model is not None:
                data = await self.hero_image(model)
                stored = self.media.put_deduplicated(data, "jpg", "image/jpeg")
                return stored.uuid, await self.load_image(stored, parameter)
        stem = path.rsplit("/", 1)[-1].split(".", 1)[0]
        if _UUID.fullmatch(stem) and self.media.get(stem) is not None:
            return await self._stored_image(stem, parameter)
        raise invalid(
            parameter, f"Cannot download '{url}': the offline simulator only reads images it serves."
        )

    async def _decode(self, data: bytes, parameter: str) -> Image.Image:
        try:
            image = await self.blocking(imaging.decode, data)
        except ValueError as exc:
            raise invalid(parameter, f"'{parameter}' is not a readable image: {exc}.") from None
        if max(image.size) > MAX_INPUT_SIDE:
            raise invalid(parameter, f"'{parameter}' is larger than {MAX_INPUT_SIDE} px on a side.")
        return image

    async def resolve_video(
        self, reference: object, parameter: str, base_url: str
    ) -> tuple[StoredFile, video.VideoInfo]:
        """An input video given as UUID (videoUUID, mediaUUID), simulator URL, data URI or base64."""
        if not isinstance(reference, str) or not reference.strip():
            raise invalid(parameter, f"'{parameter}' must be a video UUID, URL, data URI or base64 string.")
        reference = reference.strip()
        stem = urlparse(reference).path.rsplit("/", 1)[-1].split(".", 1)[0]
        if _UUID.fullmatch(reference) or reference.startswith(("http://", "https://")):
            stored = self.media.get(stem if not _UUID.fullmatch(reference) else reference)
            if stored is None:
                raise invalid(
                    parameter,
                    f"Unknown video '{reference}' in '{parameter}': the offline simulator only reads "
                    "videos it produced or stored (a videoUUID, a mediaUUID or its URL).",
                )
        else:
            data, _ = decode_inline(reference, parameter)
            kind = await self.blocking(video.detect, data)
            if kind is None:
                raise invalid(parameter, f"'{parameter}' is not a readable video (MP4, WebM or MOV).")
            stored = self.media.put_deduplicated(data, *kind)
        info = await self._probe(stored, parameter)
        return stored, info

    async def _probe(self, stored: StoredFile, parameter: str) -> video.VideoInfo:
        key = ("probe", stored.uuid)
        cached = self._probes.get(key)
        if cached is not None:
            return cached
        try:
            info = await self.blocking(video.probe, stored.data)
        except ValueError as exc:
            raise invalid(parameter, f"'{parameter}' is not a readable video: {exc}.") from None
        if info.duration > video.MAX_INPUT_SECONDS or info.frames > video.MAX_INPUT_FRAMES:
            raise invalid(
                parameter,
                f"'{parameter}' is too long: the simulator takes videos up to {video.MAX_INPUT_SECONDS} s "
                f"and {video.MAX_INPUT_FRAMES} frames.",
            )
        if max(info.width, info.height) > video.MAX_INPUT_SIDE:
            raise invalid(parameter, f"'{parameter}' is larger than {video.MAX_INPUT_SIDE} px on a side.")
        self._probes[key] = info
        return info

    async def produce_bytes(self, key: object, function: Callable[..., bytes], *args: Any) -> bytes:
        """Run an encoder off the loop, remembering its bytes under `key` (which must capture every input)."""
        data = self._encoded.get(key)
        if data is None:
            data = await self.blocking(function, *args)
            self._encoded.put(key, data)
        return data

    def store_output(
        self, data: bytes, ext: str, content_type: str, *, file_uuid: str, prefix: str,
        types: tuple[str, ...], base_url: str,
    ) -> dict[str, object]:
        """Keep a produced file under /files/ and return its `<prefix>UUID` and URL/base64/dataURI fields."""
        stored = self.media.put(data, ext, content_type, file_uuid)
        return {f"{prefix}UUID": stored.uuid, **media_fields(stored, prefix, types, base_url)}

    async def hero_image(self, model: catalog.ModelInfo) -> bytes:
        key = ("hero", model.air)
        data = self._encoded.get(key)
        if data is None:
            image = await self.blocking(imaging.hero_image, model.air, model.name)
            data = await self.blocking(imaging.encode, image, "JPG", 85)
            self._encoded.put(key, data)
        return data

    # ----------------------------------------------------------------- outputs

    async def render(self, spec: imaging.RenderSpec, key: object) -> Image.Image:
        """Render with a cache: `key` must capture every input (including input image digests)."""
        image = self._renders.get(key)
        if image is None:
            image = await self.blocking(imaging.render, spec)
            self._renders.put(key, image)
        return image

    async def emit_image(
        self,
        image: Image.Image,
        *,
        file_uuid: str,
        prefix: str,
        output: OutputOptions,
        base_url: str,
        cache_key: object = None,
    ) -> dict[str, object]:
        """Encode and store an output image; return its `<prefix>UUID` and URL/base64/dataURI fields."""
        encoded_key = (cache_key, output.format, output.quality) if cache_key is not None else None
        data = self._encoded.get(encoded_key) if encoded_key else None
        if data is None:
            data = await self.blocking(imaging.encode, image, output.format, output.quality)
            if encoded_key:
                self._encoded.put(encoded_key, data)
        _, ext, mime = imaging.FORMATS[output.format]
        stored = self.media.put(data, ext, mime, file_uuid)
        self.media.cache_image(stored.uuid, image)
        fields: dict[str, object] = {f"{prefix}UUID": stored.uuid}
        fields.update(media_fields(stored, prefix, output.types, base_url))
        return fields

    # ----------------------------------------------------------------- lifecycle

    async def submit(self, task: dict[str, Any], base_url: str, *, allow_stream: bool) -> tuple[Job, Work]:
        """Validate a task and register its record. Raises SimError (also recorded for getResponse)."""
        task_type, task_uuid = task["taskType"], task["taskUUID"]
        existing = self.jobs.get(task_uuid)
        if existing is not None and not existing.failed:
            raise SimError(
                "conflictTaskUUID", f"A task with taskUUID {task_uuid} already exists.", "taskUUID"
            )
        request = sanitize(task)
        try:
            _check_delivery(task, task_type, allow_stream)
            work = await self.builders[task_type](self, task, base_url)
            if not self.ledger.can_afford(work.estimate):
                raise SimError(
                    "insufficientCredits",
                    f"Insufficient credits: this task costs up to ${work.estimate} "
                    f"and the balance is ${self.ledger.balance}.",
                )
        except SimError as error:
            failed = Job(task_type, task_uuid, request, [{}])
            self.jobs.add(failed)
            failed.fail(error)
            raise
        job = Job(task_type, task_uuid, request, work.placeholders)
        self.jobs.add(job)
        return job, work

    def run(self, job: Job, work: Work, listener: Listener | None = None) -> None:
        self.spawn(self._run(job, work, listener or NullListener()))

    def _delay(self, work: Work) -> float:
        if work.directives.delay is not None:
            return work.directives.delay
        if work.latency is not None:
            return work.latency * self.media_latency_scale
        return self.latency

    async def _run(self, job: Job, work: Work, listener: Listener) -> None:
        try:
            if work.directives.fail:
                await self._wait(job, [0], work)
                raise SimError(
                    work.directives.fail,
                    f"Simulated failure '{work.directives.fail}' requested by a [sim:fail] directive.",
                )
            groups = [list(range(len(job.slots)))] if work.atomic else [[i] for i in range(len(job.slots))]
            for indexes in groups:
                await self._wait(job, indexes, work)
                outputs = [await work.produce(i) for i in indexes]
                items = [
                    self._finish(job, work, i, output) for i, output in zip(indexes, outputs, strict=True)
                ]
                listener.on_results(job, items)
            job.finished.set()
        except SimError as error:
            job.fail(error)
            listener.on_failure(job, error)
        except Exception:
            log.exception("simulator task %s (%s) crashed", job.task_uuid, job.task_type)
            error = SimError("inferenceError", "The simulator failed to process this task.")
            job.fail(error)
            listener.on_failure(job, error)

    async def _wait(self, job: Job, indexes: list[int], work: Work) -> None:
        delay = self._delay(work)
        now = time.monotonic()
        for index in indexes:
            job.slots[index].started_at, job.slots[index].duration = now, delay
        await asyncio.sleep(delay)

    def _finish(self, job: Job, work: Work, index: int, output: Output) -> dict[str, object]:
        self.ledger.charge(output.cost, catalog.canonical_task_type(work.task_type))
        return job.complete(index, {**output.fields, "cost": to_json_number(output.cost)})

    async def stream(
        self, job: Job, work: Work, send: Callable[[str], Awaitable[None]], abort: Callable[[], None]
    ) -> None:
        """Drive an SSE text stream: `send` writes one `data:` payload, `abort` cuts the connection."""
        assert work.reply is not None
        envelope = {"taskType": work.task_type, "taskUUID": work.task_uuid}
        events = [{**envelope, "delta": {"reasoningContent": p}} for p in stream_pieces(work.reply.reasoning)]
        events += [{**envelope, "delta": {"text": p}} for p in stream_pieces(work.reply.text)]
        directives = work.directives
        try:
            await asyncio.sleep(directives.delay or 0)
            for sent, event in enumerate(events):
                if directives.fail and sent >= _STREAM_FAIL_AFTER_CHUNKS:
                    break
                if directives.drop is not None and sent >= directives.drop:
                    self._complete_stream(job, await work.produce(0), work)
                    abort()
                    return
                await send(json.dumps(event))
                await asyncio.sleep(self.stream_chunk_delay)
            if directives.fail:
                error = SimError(
                    directives.fail,
                    f"Simulated failure '{directives.fail}' requested by a [sim:fail] directive.",
                )
                job.fail(error)
                await send(json.dumps({"errors": [error.to_dict(work.task_type, work.task_uuid)]}))
                return
            output = await work.produce(0)
            item = self._complete_stream(job, output, work)
            final = {**envelope, "delta": {}, **{k: item[k] for k in ("finishReason", "usage", "cost")}}
            await send(json.dumps(final))
            await send("[DONE]")
        except ConnectionError:
            if not job.finished.is_set():  # the client left; the generation still completes (and is billed)
                self._complete_stream(job, await work.produce(0), work)

    def _complete_stream(self, job: Job, output: Output, work: Work) -> dict[str, object]:
        item = self._finish(job, work, 0, output)
        job.finished.set()
        return item


def media_fields(stored: StoredFile, prefix: str, types: tuple[str, ...], base_url: str) -> dict[str, object]:
    fields: dict[str, object] = {}
    for output_type in types:
        if output_type == "URL":
            fields[f"{prefix}URL"] = f"{base_url}/files/{stored.uuid}.{stored.ext}"
        else:
            encoded = base64.b64encode(stored.data).decode()
            if output_type == "base64Data":
                fields[f"{prefix}Base64Data"] = encoded
            else:
                fields[f"{prefix}DataURI"] = f"data:{stored.content_type};base64,{encoded}"
    return fields


def decode_inline(reference: str, parameter: str) -> tuple[bytes, str | None]:
    """Bytes of a data URI or bare base64 string, and the data URI's MIME type if any."""
    match = _DATA_URI.fullmatch(reference)
    payload, mime = (match.group("data"), match.group("mime")) if match else (reference, None)
    try:
        return base64.b64decode(re.sub(r"\s+", "", payload), validate=True), mime
    except (binascii.Error, ValueError):
        raise invalid(
            parameter, f"'{parameter}' is neither a known UUID, a URL, a data URI nor base64."
        ) from None


def _check_delivery(task: dict[str, Any], task_type: str, allow_stream: bool) -> None:
    method = task.get("deliveryMethod")
    if method is None or method in ("sync", "async"):
        return
    if method != "stream":
        raise SimError(
            "invalidDeliveryMethod", "deliveryMethod must be 'sync', 'async' or 'stream'.", "deliveryMethod"
        )
    if task_type != "textInference" or not allow_stream:
        raise SimError(
            "unsupportedDeliveryMethod",
            "deliveryMethod 'stream' is only available for textInference over HTTP (SSE).",
            "deliveryMethod",
        )


def sanitize(task: dict[str, Any]) -> dict[str, Any]:
    """The request as kept for getTaskDetails: no API key, long strings (base64 images) abbreviated."""

    def clean(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items() if k != "apiKey"}
        if isinstance(value, list):
            return [clean(v) for v in value]
        if isinstance(value, str) and len(value) > 512:
            return f"<{len(value)} characters>"
        return value

    return clean(task)
