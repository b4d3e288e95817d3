"""`/v1` over WebSocket: Runware's own protocol, for members' scripts with a personal key.

The first task is `authentication` with the key; the answer carries a connectionSessionUUID, and
a socket that re-authenticates with it within RESUME_SECONDS of a drop rejoins the session: the
results of its tasks that finished while it was away are sent again, as Runware sends what it
buffered for a session (they also stay available through getResponse). Then every message is a
JSON array of tasks, answered as Runware answers: sync results pushed one by one as Runware sends
them (stored just after, see handlers.py), an ACK for async tasks, a pong for a ping. A frame that cannot be read gets a Runware error and the socket stays open.

Tasks are answered concurrently, as Runware answers them: a script that keeps ten tasks going
sends ten frames at once, and the ten are checked and admitted together (one trip of the runner's
group commit) rather than one after the other. At most MAX_IN_FLIGHT of a socket's tasks are
being answered at a time; past that, the socket reads no more until one is answered.
Authentication and pings are answered in order, before anything after them in the frame.

Not a PortalConsumer: there is no session cookie and no page. The key is checked on every task
(a key revoked while the socket is open stops there), and a socket without a valid key does no
work at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from datetime import datetime
from typing import Any

from channels.db import database_sync_to_async
from django.core.cache import cache
from django.utils import timezone

from runware_web.endpoint import keys, limits, protocol, services
from runware_web.endpoint.handlers import join_locally, leave_locally, session_group
from runware_web.endpoint.models import ApiKey
from runware_web.lib.outages import CACHE
from runware_web.live.dispatch import DirectDispatchConsumer
from runware_web.live.tabs import release_slot, renew_every, renew_slot
from runware_web.upstream.errors import Refused

log = logging.getLogger(__name__)

#: The largest message a script may send: the same as the browser sockets (live.server, Daphne as the
#: portal runs it, closes a larger message with 1009 before it reaches here). Input images go by imageUUID.
MAX_FRAME_BYTES = 256 * 1024
#: Tasks of one socket being checked and admitted at a time (see the module's docstring).
MAX_IN_FLIGHT = 32


class EndpointConsumer(DirectDispatchConsumer):
    key: ApiKey | None = None
    session: uuid.UUID | None = None
    group: str | None = None
    slot: str | None = None  # the key's connection slot this socket holds (endpoint.limits)
    _renewal: asyncio.Task[None] | None = None
    _in_flight: asyncio.Semaphore
    _answering: set[asyncio.Task[None]]

    async def connect(self) -> None:
        self.slot_token = uuid.uuid4().hex
        self._in_flight, self._answering = asyncio.Semaphore(MAX_IN_FLIGHT), set()
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if self.group:
            leave_locally(self.group, self)
            await self.channel_layer.group_discard(self.group, self.channel_name)
            await _remember_drop(self.group)
        await self._give_back_slot()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        size = len(text_data.encode()) if text_data is not None else len(bytes_data or b"")
        if size > MAX_FRAME_BYTES:
            await self.send_frame(services.errors(protocol.error(
                "maxPayloadSizeExceeded", f"Messages are limited to {MAX_FRAME_BYTES} bytes.")))
            return
        try:
            tasks = json.loads(text_data if text_data is not None else (bytes_data or b"").decode())
        except ValueError:
            await self.send_frame(services.errors(protocol.invalid("", "The message is not JSON: send a JSON array of tasks.")))
            return
        if isinstance(tasks, dict):
            tasks = [tasks]
        if not isinstance(tasks, list) or not tasks:
            await self.send_frame(services.errors(protocol.invalid("", "Send a JSON array of task objects.")))
            return
        for task in tasks:
            task_type = task.get("taskType") if isinstance(task, dict) else None
            if task_type == "authentication":
                await self.authenticate(task)
            elif task_type == "ping":
                await self.send_frame(services.data({"taskType": "ping", "pong": True}))
            else:
                await self._in_flight.acquire()  # back-pressure: the socket reads on once one is answered
                answering = asyncio.create_task(self.answer(task, self.key, self.session))
                self._answering.add(answering)
                answering.add_done_callback(self._answered)

    def _answered(self, answering: asyncio.Task[None]) -> None:
        self._answering.discard(answering)
        self._in_flight.release()

    async def answer(self, task: Any, key: ApiKey | None, session: uuid.UUID | None) -> None:
        """Answer one task with the key and session the socket had when it arrived. A task already
        admitted when the socket closes still runs: its results are kept for a resumed session and
        for getResponse."""
        if key is None:
            label = task.get("taskUUID") if isinstance(task, dict) and isinstance(task.get("taskUUID"), str) else ""
            await self.send_frame(services.errors(protocol.error(
                "missingApiKey", protocol.MISSING_KEY, parameter="apiKey", task_uuid=label,
                task_type=str(task.get("taskType") or "") if isinstance(task, dict) else "")))
            return
        caller = services.Caller(key=key, base_url=self.base_url(), session=session)
        try:
            frame = await services.answer(caller, task)
        except Exception:
            log.exception("An endpoint task failed")
            label = str(task.get("taskUUID") or "")
            frame = services.errors(protocol.error(
                "internalServerError", "The portal could not handle this task. Try again.",
                task_type=str(task.get("taskType") or ""), task_uuid=label))
        if self.key is not None and self.key.pk == caller.key.pk:  # read afresh (unless re-authenticated meanwhile)
            self.key = caller.key
        if frame is not None:
            await self.send_frame(frame)

    async def authenticate(self, task: dict[str, Any]) -> None:
        key = await database_sync_to_async(keys.authenticate)(task.get("apiKey"))
        if key is None:
            await self.send_frame(services.errors(protocol.error(
                "invalidApiKey", protocol.INVALID_KEY, parameter="apiKey", task_type="authentication")))
            return
        if self.key is None or self.key.pk != key.pk:
            try:
                await self._take_slot(key)
            except Refused as refused:
                await self.send_frame(services.errors(protocol.from_refusal(refused, task_type="authentication",
                                                                            task_uuid="")))
                return
        try:
            session = uuid.UUID(str(task.get("connectionSessionUUID")))
        except ValueError:
            session = uuid.uuid4()
        if self.group:
            leave_locally(self.group, self)
            await self.channel_layer.group_discard(self.group, self.channel_name)
        self.key, self.session = key, session
        self.group = session_group(key.user_id, session)
        await self.channel_layer.group_add(self.group, self.channel_name)
        join_locally(self.group, self)  # results of this worker's tasks come straight here (handlers._push)
        await self.send_frame(services.data({"taskType": "authentication", "connectionSessionUUID": str(session)}))
        dropped_at = await _take_drop(self.group)
        if dropped_at is not None:  # a resumed session: what finished while it was away, again
            missed = await database_sync_to_async(services.missed_results)(key.user_id, session, dropped_at,
                                                                           self.base_url())
            for frame in missed:
                await self.send_frame(frame)

    async def _take_slot(self, key: ApiKey) -> None:
        """Hold one of the key's connection slots (giving back another key's); raises Refused."""
        slot = await limits.take_socket_slot(key, self.slot_token)
        await self._give_back_slot()
        self.slot = slot
        if slot is not None:
            self._renewal = asyncio.create_task(self._renew_slot(slot))

    async def _renew_slot(self, slot: str) -> None:
        while True:
            await asyncio.sleep(renew_every())
            await renew_slot(slot, self.slot_token)

    async def _give_back_slot(self) -> None:
        if self._renewal is not None:
            self._renewal.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewal
            self._renewal = None
        if self.slot is not None:
            slot, self.slot = self.slot, None
            await release_slot(slot, self.slot_token)

    # ------------------------------------------------------------------ pushed by the handler

    async def endpoint_result(self, event: dict[str, Any]) -> None:
        """Results of a task of this session, as Runware items with URLs relative to the portal."""
        base = self.base_url()
        items = [{name: base + value if name.endswith("URL") and isinstance(value, str) and value.startswith("/")
                  else value for name, value in item.items()} for item in event["items"] if item]
        if items:
            await self.send_frame(services.data(*items))

    async def endpoint_frame(self, event: dict[str, Any]) -> None:
        await self.send_frame(event["frame"])

    # ------------------------------------------------------------------

    def base_url(self) -> str:
        """The portal's address as the script reached it (for the URLs of its results)."""
        headers = dict(self.scope.get("headers") or [])
        host = headers.get(b"host", b"").decode("latin1") or "localhost"
        scheme = "https" if self.scope.get("scheme") == "wss" else "http"
        return f"{scheme}://{host}"

    async def send_frame(self, frame: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(frame))


#: How long after a drop a session may be resumed with its results sent again (Runware buffers a
#: dropped connection's results about as long).
RESUME_SECONDS = 120


def _drop_key(group: str) -> str:
    return f"{group}.dropped"


async def _remember_drop(group: str) -> None:
    """Note when a session's socket went (in the cache, which every worker shares), for its resume."""
    try:
        await cache.aset(_drop_key(group), timezone.now(), RESUME_SECONDS)
    except Exception as exc:  # the cache away: a resumed session then finds its results by getResponse
        CACHE.failed(exc)


async def _take_drop(group: str) -> datetime | None:
    """When the session's socket dropped, if it did within RESUME_SECONDS (forgotten as it is read)."""
    try:
        dropped_at = await cache.aget(_drop_key(group))
        if dropped_at is not None:
            await cache.adelete(_drop_key(group))
    except Exception as exc:
        CACHE.failed(exc)
        return None
    return dropped_at if isinstance(dropped_at, datetime) else None
