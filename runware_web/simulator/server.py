"""The Runware simulator's network front: one aiohttp server that speaks the Runware
WebSocket protocol and the REST/SSE API on `/v1`, and serves files.

Public API:

* `Simulator(latency=0.4, stream_chunk_delay=0.03, starting_balance=Decimal("1000"),
  media_latency_scale=1.0)`
  with `await start(host, port)` / `await stop()` and `ws_url`, `http_url`, `base_url`, `port`;
* `run_in_thread(host, port, **options) -> SimulatorThread`, a Simulator on its own
  thread and event loop (for code whose event loops come and go, e.g. tests).

This module must not import Django.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import threading
import time
import uuid
from collections import deque
from decimal import Decimal
from typing import Any

from aiohttp import WSMsgType, web

from . import catalog, content, imaging
from .engine import Engine, Work
from .errors import SimError, invalid_api_key
from .mediatasks import BUILDERS
from .store import Job
from .utilities import UTILITIES

log = logging.getLogger(__name__)

SESSION_BUFFER_SECONDS = 120.0
_JANITOR_INTERVAL_SECONDS = 30.0
_MAX_MESSAGE_BYTES = 64 * 1024 * 1024
_DROP_CLOSE_CODE = 1012  # "service restart": the client is expected to reconnect
_CLOSE = object()


def _is_bad_key(api_key: str) -> bool:
    return api_key.startswith("bad")


def _task_error(error: SimError, task: dict[str, Any]) -> dict[str, object]:
    return error.to_dict(_str(task.get("taskType")), _str(task.get("taskUUID")))


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


# ----------------------------------------------------------------- WebSocket side


class Connection:
    """One WebSocket. A single writer task sends queued frames in order, so frames never interleave."""

    def __init__(self, ws: web.WebSocketResponse, base_url: str) -> None:
        self.ws = ws
        self.base_url = base_url
        self.session: Session | None = None
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        self._writer = asyncio.ensure_future(self._write_loop())

    def send(self, frame: dict[str, object]) -> None:
        self.send_text(json.dumps(frame))

    def send_text(self, text: str) -> None:
        self._queue.put_nowait(text)

    def close_after_pending(self) -> None:
        self._queue.put_nowait(_CLOSE)

    async def _write_loop(self) -> None:
        while True:
            item = await self._queue.get()
            if item is _CLOSE:
                await self.ws.close(code=_DROP_CLOSE_CODE, message=b"simulated connection drop")
                return
            assert isinstance(item, str)
            try:
                await self.ws.send_str(item)
            except (ConnectionError, RuntimeError):
                self._rescue([item])
                return

    def _rescue(self, unsent: list[str]) -> None:
        """Frames that could not be written go back to the session, to be delivered on resume."""
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if isinstance(item, str):
                unsent.append(item)
        if self.session is not None:
            self.session.detach(self)
            self.session.redeliver(unsent)

    async def finish(self) -> None:
        """The socket is gone: stop writing and hand unsent frames to the session."""
        self._writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._writer
        self._rescue([])


class Session:
    """A `connectionSessionUUID`: outlives sockets, buffers frames while none is attached."""

    def __init__(self, api_key: str) -> None:
        self.uuid = str(uuid.uuid4())
        self.api_key = api_key
        self.connection: Connection | None = None
        self.detached_at: float | None = time.monotonic()
        self._buffer: deque[tuple[float, str]] = deque()

    def send(self, frame: dict[str, object]) -> None:
        if self.connection is not None:
            self.connection.send(frame)
        else:
            self.buffer(json.dumps(frame))

    def buffer(self, text: str) -> None:
        self._buffer.append((time.monotonic(), text))

    def redeliver(self, texts: list[str]) -> None:
        for text in texts:
            if self.connection is not None:
                self.connection.send_text(text)
            else:
                self.buffer(text)

    def attach(self, connection: Connection) -> None:
        """Make `connection` current and deliver what was buffered in the last 120 s."""
        self.connection, self.detached_at = connection, None
        horizon = time.monotonic() - SESSION_BUFFER_SECONDS
        while self._buffer:
            at, text = self._buffer.popleft()
            if at >= horizon:
                connection.send_text(text)

    def detach(self, connection: Connection) -> None:
        if self.connection is connection:
            self.connection, self.detached_at = None, time.monotonic()

    def drop_connection(self) -> None:
        """Simulate a network drop: close the current socket once its queued frames are out."""
        connection = self.connection
        if connection is not None:
            self.detach(connection)
            connection.close_after_pending()

    def expired(self, now: float) -> bool:
        return self.detached_at is not None and now - self.detached_at > SESSION_BUFFER_SECONDS


class _SessionListener:
    """Pushes a task's results to its session (sync delivery) and applies `[sim:drop=N]`."""

    def __init__(self, session: Session, work: Work, *, push: bool) -> None:
        self._session = session
        self._push = push
        self._drop_after = work.directives.drop
        self._delivered = 0

    def on_results(self, job: Job, items: list[dict[str, object]]) -> None:
        if self._push:
            self._session.send({"data": items})
        self._delivered += len(items)
        if self._drop_after is not None and self._delivered >= self._drop_after:
            self._drop_after = None
            self._session.drop_connection()

    def on_failure(self, job: Job, error: SimError) -> None:
        if self._push:
            self._session.send({"errors": [error.to_dict(job.task_type, job.task_uuid)]})


# ---------------------------------------------------------------------- Simulator


class Simulator:
    """A local Runware-compatible server (WebSocket + REST + SSE + file hosting)."""

    def __init__(
        self,
        latency: float = 0.4,
        stream_chunk_delay: float = 0.03,
        starting_balance: Decimal = Decimal("1000"),
        media_latency_scale: float = 1.0,
    ) -> None:
        self.engine = Engine(
            builders=BUILDERS, latency=latency, stream_chunk_delay=stream_chunk_delay,
            starting_balance=starting_balance, media_latency_scale=media_latency_scale,
        )
        self.host = "127.0.0.1"
        self.port = 0
        self._sessions: dict[str, Session] = {}
        self._connections: set[Connection] = set()
        self._runner: web.AppRunner | None = None
        self._janitor: asyncio.Task[None] | None = None
        self.websocket_connections = 0  # accepted so far: lets tests observe reconnects

    # -- settings and state

    @property
    def latency(self) -> float:
        return self.engine.latency

    @latency.setter
    def latency(self, seconds: float) -> None:
        self.engine.latency = seconds

    @property
    def media_latency_scale(self) -> float:
        """Multiplies each video/audio/3D model's nominal latency (docs/simulator.md); 0 = instant."""
        return self.engine.media_latency_scale

    @media_latency_scale.setter
    def media_latency_scale(self, scale: float) -> None:
        self.engine.media_latency_scale = scale

    @property
    def content_url(self) -> str:
        """Where the content service (content.runware.ai's paths) is served."""
        return f"{self.base_url}{content.CONTENT_PREFIX}"

    @property
    def stream_chunk_delay(self) -> float:
        return self.engine.stream_chunk_delay

    @stream_chunk_delay.setter
    def stream_chunk_delay(self, seconds: float) -> None:
        self.engine.stream_chunk_delay = seconds

    @property
    def balance(self) -> Decimal:
        return self.engine.ledger.balance

    @property
    def total_charged(self) -> Decimal:
        return self.engine.ledger.total_charged

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def http_url(self) -> str:
        return f"{self.base_url}/v1"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}/v1"

    # -- lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        app = web.Application(client_max_size=_MAX_MESSAGE_BYTES)
        app.router.add_get("/v1", self._handle_get)
        app.router.add_post("/v1", self._handle_post)
        app.router.add_get("/files/{name}", self._handle_file)
        app.router.add_get("/hero/{slug}.jpg", self._handle_hero)
        app.router.add_get("/health", self._handle_health)
        app.router.add_get(content.CONTENT_PREFIX + "/{path:.*}", self._handle_content)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        self.host, self.port = host, self._runner.addresses[0][1]
        self._janitor = asyncio.ensure_future(self._janitor_loop())

    async def stop(self) -> None:
        if self._janitor is not None:
            self._janitor.cancel()
        for connection in list(self._connections):
            with contextlib.suppress(Exception):
                await connection.ws.close(code=1001, message=b"simulator shutting down")
        await self.engine.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def _janitor_loop(self) -> None:
        while True:
            await asyncio.sleep(_JANITOR_INTERVAL_SECONDS)
            now = time.monotonic()
            for key in [k for k, s in self._sessions.items() if s.expired(now)]:
                del self._sessions[key]
            self.engine.prune()

    @staticmethod
    def _public_base(request: web.Request) -> str:
        """Base URL for links in results, as the client addressed us (works behind a LAN name too)."""
        return f"http://{request.host}"

    # -- plain HTTP

    async def _handle_health(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"status": "ok", "simulator": "runware", "models": len(catalog.all_models())}
        )

    async def _handle_file(self, request: web.Request) -> web.Response:
        stem, _, ext = request.match_info["name"].partition(".")
        stored = self.engine.media.get(stem)
        if stored is None:
            raise web.HTTPNotFound()
        wanted = imaging.EXTENSION_FORMAT.get(ext.lower())
        if stored.is_image and wanted and ext.lower() != stored.ext:
            image = await self.engine.load_image(stored, "file")
            data = await self.engine.blocking(imaging.encode, image, wanted, 95)
            return web.Response(body=data, content_type=imaging.FORMATS[wanted][2])
        return _ranged(request, stored.data, stored.content_type)

    async def _handle_content(self, request: web.Request) -> web.Response:
        """The content service's read-only JSON (see content.py); 404 for unknown ids and paths."""
        base_url = self._public_base(request)
        parts = [p for p in request.match_info["path"].split("/") if p]
        query = dict(request.query)
        body: object = None
        if parts == ["models"]:
            body = content.list_models(query, base_url)
        elif len(parts) == 2 and parts[0] == "models":
            model = content.find(parts[1])
            body = content._public(model, base_url) if model else None
        elif len(parts) == 3 and parts[0] == "models" and content.find(parts[1]) is not None:
            body = {"pricing": lambda: content.pricing_of(parts[1], base_url),
                    "examples": lambda: [], "guides": lambda: []}.get(parts[2], lambda: None)()
        elif parts == ["capabilities"]:
            body = content.capabilities()
        elif parts and parts[0] in ("collections", "creators"):
            listing = (content.collections(base_url, query.get("category")) if parts[0] == "collections"
                       else content.creators(base_url))
            body = listing if len(parts) == 1 else next((x for x in listing if x["id"] == parts[1]), None)
        if body is None:
            return web.json_response({"error": "Not found", "path": request.path}, status=404)
        return web.json_response(body)

    async def _handle_hero(self, request: web.Request) -> web.Response:
        model = catalog.get_model_by_slug(request.match_info["slug"])
        if model is None:
            raise web.HTTPNotFound()
        return web.Response(body=await self.engine.hero_image(model), content_type="image/jpeg")

    # -- REST

    async def _handle_post(self, request: web.Request) -> web.StreamResponse:
        try:
            tasks = _as_task_list(json.loads(await request.read()))
        except (ValueError, UnicodeDecodeError):
            error = SimError("invalidJSON", "The request body must be a JSON array of task objects.")
            return web.json_response({"errors": [error.to_dict(None, None)]}, status=400)
        header = request.headers.get("Authorization", "")
        api_key = header[7:].strip() if header.lower().startswith("bearer ") else ""
        if tasks and isinstance(tasks[0], dict) and tasks[0].get("taskType") == "authentication":
            api_key = api_key or str(tasks[0].get("apiKey") or "")
            tasks = tasks[1:]
        if not api_key or _is_bad_key(api_key):
            body = (
                invalid_api_key()
                if api_key
                else {
                    "code": "missingApiKey",
                    "message": "Send 'Authorization: Bearer <API key>'.",
                    "parameter": "apiKey",
                    "taskType": "authentication",
                }
            )
            return web.json_response({"errors": [body]}, status=401)
        self.engine.note_api_key(api_key)
        base_url = self._public_base(request)
        streams = [t for t in tasks if isinstance(t, dict) and t.get("deliveryMethod") == "stream"]
        if streams and len(tasks) == 1:
            return await self._stream(request, streams[0], base_url)
        outcomes = await asyncio.gather(*(self._rest_task(task, base_url) for task in tasks))
        data = [item for items, _ in outcomes for item in items]
        errors = [error for _, error in outcomes if error is not None]
        body: dict[str, object] = {"data": data}
        status = 200
        if errors:
            body["errors"] = [error_dict for error_dict, _ in errors]
            status = 200 if data else errors[0][1]
        return web.json_response(body, status=status)

    async def _rest_task(
        self, task: object, base_url: str
    ) -> tuple[list[dict[str, object]], tuple[dict[str, object], int] | None]:
        """One task of a REST request: (items, (error object, HTTP status) or None)."""
        try:
            if isinstance(task, dict) and task.get("deliveryMethod") == "stream":
                raise SimError(
                    "unsupportedDeliveryMethod",
                    "A streamed task must be the only task of its request.",
                    "deliveryMethod",
                )
            accepted = await self._accept(task, base_url)
        except SimError as error:
            context = task if isinstance(task, dict) else {}
            return [], (_task_error(error, context), error.http_status)
        if isinstance(accepted, list):
            return accepted, None
        job, work = accepted
        self.engine.run(job, work)
        if job.request.get("deliveryMethod") == "async":
            return [{"taskType": job.task_type, "taskUUID": job.task_uuid}], None
        await job.finished.wait()
        if job.error is not None:
            return [], (job.error.to_dict(job.task_type, job.task_uuid), job.error.http_status)
        return job.results(), None

    async def _stream(self, request: web.Request, task: dict[str, Any], base_url: str) -> web.StreamResponse:
        try:
            accepted = await self._accept(task, base_url, allow_stream=True)
            if isinstance(accepted, list):
                raise SimError(
                    "unsupportedDeliveryMethod", "Only textInference can be streamed.", "deliveryMethod"
                )
            job, work = accepted
        except SimError as error:
            return web.json_response({"errors": [_task_error(error, task)]}, status=error.http_status)
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)

        async def send(payload: str) -> None:
            await response.write(f"data: {payload}\n\n".encode())

        def abort() -> None:
            if request.transport is not None:
                request.transport.abort()

        await self.engine.stream(job, work, send, abort)
        if request.transport is not None and not request.transport.is_closing():
            await response.write_eof()
        return response

    # -- WebSocket

    async def _handle_get(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(max_msg_size=_MAX_MESSAGE_BYTES)
        if not ws.can_prepare(request).ok:
            return web.json_response({"message": "Runware simulator: WebSocket here, or POST task arrays."})
        await ws.prepare(request)
        self.websocket_connections += 1
        connection = Connection(ws, self._public_base(request))
        self._connections.add(connection)
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    self._on_message(connection, message.data)
                elif message.type == WSMsgType.BINARY:
                    self._on_message(connection, message.data.decode("utf-8", errors="replace"))
        finally:
            self._connections.discard(connection)
            await connection.finish()
        return ws

    def _on_message(self, connection: Connection, raw: str) -> None:
        try:
            tasks = _as_task_list(json.loads(raw))
        except ValueError:
            # No taskUUID can be known; a fresh one keeps the error object well-formed.
            error = SimError("invalidJSON", "Each message must be a JSON array of task objects.")
            connection.send({"errors": [error.to_dict(None, _extract_uuid(raw) or str(uuid.uuid4()))]})
            return
        for task in tasks:
            task_type = task.get("taskType") if isinstance(task, dict) else None
            if task_type == "authentication":
                self._authenticate(connection, task)
            elif task_type == "ping":
                connection.send({"data": [{"taskType": "ping", "pong": True}]})
            elif connection.session is None:
                error = SimError(
                    "missingApiKey", "Authenticate first: send an authentication task.", "apiKey"
                )
                connection.send({"errors": [_ws_error(error, task)]})
            else:
                self.engine.spawn(self._ws_task(connection.session, connection.base_url, task))

    def _authenticate(self, connection: Connection, task: dict[str, Any]) -> None:
        api_key = task.get("apiKey")
        if not isinstance(api_key, str) or not api_key or _is_bad_key(api_key):
            error = (
                invalid_api_key()
                if api_key
                else {
                    "code": "missingApiKey",
                    "message": "The authentication task needs an 'apiKey'.",
                    "parameter": "apiKey",
                    "taskType": "authentication",
                }
            )
            connection.send({"errors": [error]})
            connection.close_after_pending()
            return
        requested = self._sessions.get(str(task.get("connectionSessionUUID") or ""))
        session = requested if requested is not None and requested.api_key == api_key else Session(api_key)
        self._sessions[session.uuid] = session
        if connection.session is not None and connection.session is not session:
            connection.session.detach(connection)
        connection.session = session
        connection.send({"data": [{"taskType": "authentication", "connectionSessionUUID": session.uuid}]})
        session.attach(connection)

    async def _ws_task(self, session: Session, base_url: str, task: dict[str, Any]) -> None:
        self.engine.note_api_key(session.api_key)
        try:
            accepted = await self._accept(task, base_url)
        except SimError as error:
            session.send({"errors": [_ws_error(error, task)]})
            return
        if isinstance(accepted, list):
            session.send({"data": accepted})
            return
        job, work = accepted
        is_async = job.request.get("deliveryMethod") == "async"
        if work.directives.drop == 0:
            session.drop_connection()  # before even the ACK: the SDK re-sends async tasks, loses sync ones
        elif is_async:
            session.send({"data": [{"taskType": job.task_type, "taskUUID": job.task_uuid}]})
        self.engine.run(job, work, _SessionListener(session, work, push=not is_async))

    async def _accept(
        self, task: object, base_url: str, *, allow_stream: bool = False
    ) -> list[dict[str, object]] | tuple[Job, Work]:
        """A utility's answer, or a validated and registered job ready to run. Raises SimError only."""
        checked = _checked_task(task)
        try:
            utility = UTILITIES.get(checked["taskType"])
            if utility is not None:
                return await utility(self.engine, checked, base_url)
            return await self.engine.submit(checked, base_url, allow_stream=allow_stream)
        except SimError:
            raise
        except Exception as exc:  # a simulator bug must still answer the task, or the client waits forever
            log.exception("simulator failed on a %s task", checked["taskType"])
            raise SimError("internalServerError", "The simulator failed to handle this task.") from exc


_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def _ranged(request: web.Request, data: bytes, content_type: str) -> web.Response:
    """The whole file, or one `Range: bytes=a-b` of it (206), so players can seek; 416 when outside."""
    headers = {"Accept-Ranges": "bytes"}
    match = _RANGE.fullmatch(request.headers.get("Range", "").strip())
    if match is None or match.groups() == ("", ""):
        return web.Response(body=data, content_type=content_type, headers=headers)
    size = len(data)
    first, last = match.groups()
    if first == "":  # a suffix: the last N bytes
        start, end = max(0, size - int(last)), size - 1
    else:
        start, end = int(first), min(int(last), size - 1) if last else size - 1
    if start >= size or start > end:
        return web.Response(status=416, headers={**headers, "Content-Range": f"bytes */{size}"})
    headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    return web.Response(body=data[start : end + 1], status=206, content_type=content_type, headers=headers)


def _as_task_list(payload: object) -> list[Any]:
    if isinstance(payload, dict):
        return [payload]
    if isinstance(payload, list):
        return payload
    raise ValueError("not a task array")


def _checked_task(task: object) -> dict[str, Any]:
    """A task object with a string taskType and taskUUID, of a type the simulator runs."""
    if not isinstance(task, dict):
        raise SimError("invalidTask", "Each array element must be a task object.")
    task_type = task.get("taskType")
    if not isinstance(task_type, str) or not task_type:
        raise SimError("missingTaskType", "Every task needs a 'taskType'.", "taskType")
    if not isinstance(task.get("taskUUID"), str) or not task["taskUUID"]:
        raise SimError("missingTaskUUID", "Every task needs a 'taskUUID' (UUID v4).", "taskUUID")
    if task_type not in BUILDERS and task_type not in UTILITIES:
        raise SimError("unsupportedTaskType", f"Task type '{task_type}' is not simulated.", "taskType")
    return task


def _ws_error(error: SimError, task: object) -> dict[str, object]:
    """WebSocket errors always carry a taskUUID (the SDK fails every pending call on one without)."""
    context = task if isinstance(task, dict) else {}
    return error.to_dict(_str(context.get("taskType")), _str(context.get("taskUUID")) or str(uuid.uuid4()))


def _extract_uuid(raw: str) -> str | None:
    match = re.search(r'"taskUUID"\s*:\s*"([^"]+)"', raw)
    return match.group(1) if match else None


# ------------------------------------------------------------------ threaded runner


class SimulatorThread:
    """A Simulator running on its own thread and event loop; safe to use from any thread."""

    def __init__(self, simulator: Simulator) -> None:
        self.simulator = simulator
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="runware-simulator", daemon=True)

    def start(self, host: str, port: int, timeout: float = 10.0) -> None:
        """Start the thread and return once the server is listening."""
        self._thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self.simulator.start(host, port), self._loop).result(timeout)
        except BaseException:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout)
            raise

    def stop(self, timeout: float = 10.0) -> None:
        if not self._thread.is_alive():
            return
        asyncio.run_coroutine_threadsafe(self.simulator.stop(), self._loop).result(timeout)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout)
        self._loop.close()

    def __enter__(self) -> SimulatorThread:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def ws_url(self) -> str:
        return self.simulator.ws_url

    @property
    def http_url(self) -> str:
        return self.simulator.http_url

    @property
    def base_url(self) -> str:
        return self.simulator.base_url

    @property
    def port(self) -> int:
        return self.simulator.port

    def balance(self) -> Decimal:
        return self.simulator.balance

    def total_charged(self) -> Decimal:
        return self.simulator.total_charged

    # Plain float assignments: atomic, and read afresh by every result / chunk.
    def set_latency(self, seconds: float) -> None:
        self.simulator.latency = seconds

    def set_stream_chunk_delay(self, seconds: float) -> None:
        self.simulator.stream_chunk_delay = seconds

    def set_media_latency_scale(self, scale: float) -> None:
        self.simulator.media_latency_scale = scale


def run_in_thread(host: str = "127.0.0.1", port: int = 0, **options: Any) -> SimulatorThread:
    """Start a Simulator (options as for `Simulator`) on a background thread; returns once it listens."""
    handle = SimulatorThread(Simulator(**options))
    handle.start(host, port)
    return handle
