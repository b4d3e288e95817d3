"""The runware-sdk client: one per process and event loop, the portal's only way to Runware.

The SDK's client holds one WebSocket session and futures bound to the loop that made it, so each
event loop gets its own, made on first use inside that loop. The portal's Runware key goes from
settings to this client and nowhere else. The runner closes the loop's client when it shuts down.

Each client's sockets are opened through `_watched_connect`, which reads the session Runware
grants on every (re)connection (`UpstreamSession`): a Runware that restarted grants a new one,
and the runner must then fetch, or give up, what it still waited for on the old one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import weakref
from collections.abc import Callable
from typing import Any

import websockets
from django.conf import settings
from runware import RuntimeDependencies, Runware
from runware.user_agent import user_agent

from runware_web.upstream.downloads import close_downloads

log = logging.getLogger(__name__)

_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Runware] = weakref.WeakKeyDictionary()


class UpstreamSession:
    """The Runware session (`connectionSessionUUID`) this loop's client is in.

    After a drop the SDK reconnects and asks to resume its session: Runware then hands over what it
    kept for it (§2.3 of the protocol notes). A Runware that restarted knows no session and grants
    a new one, having forgotten every task sent on the old. The SDK fails only the sync tasks that
    had no answer yet; one already answered (its first image in) waits for frames that will never
    come, until its timeout. So whoever waits on a task listens here for new sessions.
    """

    def __init__(self) -> None:
        self.uuid: str | None = None
        self.generation = 0  # bumped each time Runware grants a session other than the one asked for
        self._listeners: set[Callable[[], None]] = set()

    def listen(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call `callback` whenever a new session replaces the one before; returns how to stop."""
        self._listeners.add(callback)
        return lambda: self._listeners.discard(callback)

    def granted(self, uuid: str) -> None:
        """Runware authenticated a socket into session `uuid`."""
        previous, self.uuid = self.uuid, uuid
        if previous is None or uuid == previous:
            return
        self.generation += 1
        log.warning("Runware did not resume the upstream session: tasks in flight are fetched with getResponse.")
        for callback in list(self._listeners):
            try:
                callback()
            except Exception:
                log.exception("A listener of the upstream session failed")


_sessions: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, UpstreamSession] = weakref.WeakKeyDictionary()


async def shared_client() -> Runware:
    """This event loop's client (named so that callers can keep `client` for the object)."""
    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None:
        session = _sessions[loop] = UpstreamSession()
        client = _clients[loop] = _new_client(session)
    return client


async def upstream_session() -> UpstreamSession:
    """The session of this loop's client (the client is made if need be)."""
    await shared_client()
    return _sessions[asyncio.get_running_loop()]


async def connected_client() -> Runware:
    """This loop's client, connected: a task sent now goes out on the session in place, at once.

    While Runware cannot be reached this raises (the SDK's `connectionFailed`) rather than holding
    the task until Runware is back."""
    client = await shared_client()
    if not client.is_connected:
        await client.connect()
    return client


async def close_shared_client(timeout: float) -> None:
    """Close this loop's client, if it has one, and its downloads' session, waiting at most `timeout`
    seconds each: the SDK's close can wait on a reconnect in progress, which must never hold up a
    worker's shutdown."""
    loop = asyncio.get_running_loop()
    client = _clients.pop(loop, None)
    _sessions.pop(loop, None)
    if client is not None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.close(), timeout=timeout)
    with contextlib.suppress(Exception):
        await asyncio.wait_for(close_downloads(), timeout=timeout)


def _new_client(session: UpstreamSession) -> Runware:
    return Runware(
        api_key=settings.RUNWARE_API_KEY or "simulator",
        transport="websocket",
        ws_base_url=settings.RUNWARE_WS_URL,
        http_base_url=settings.RUNWARE_HTTP_URL,
        timeout=int(settings.RUNWARE_TIMEOUT * 1000),
        poll_timeout=int(settings.RUNWARE_TIMEOUT * 1000),
        max_retries=settings.RUNWARE_MAX_RETRIES,
        retry_delay=int(settings.RUNWARE_RETRY_DELAY * 1000),
        validate=False,
        dependencies=RuntimeDependencies(ws_connect=_watched_connect(session)),
    )


def _watched_connect(session: UpstreamSession) -> Callable[[str], Any]:
    """The SDK's way of opening a socket (its User-Agent included), telling `session` what it is granted."""

    async def connect(url: str) -> _WatchedSocket:
        socket = await websockets.connect(url, additional_headers={"User-Agent": user_agent()})
        return _WatchedSocket(socket, session)

    return connect


class _WatchedSocket:
    """A websockets connection whose authentication answer is read on its way to the SDK.

    The SDK reads that answer with `recv()` and everything after it by iterating, so only `recv()`
    needs looking at; the rest is the connection itself."""

    def __init__(self, socket: Any, session: UpstreamSession) -> None:
        self._socket = socket
        self._session = session

    async def recv(self, *args: Any, **kwargs: Any) -> Any:
        raw = await self._socket.recv(*args, **kwargs)
        if uuid := _granted_session(raw):
            self._session.granted(uuid)
        return raw

    def __aiter__(self) -> Any:
        return self._socket.__aiter__()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._socket, name)


def _granted_session(raw: str | bytes) -> str | None:
    """The `connectionSessionUUID` of an authentication answer; None for any other frame."""
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    if '"authentication"' not in text:
        return None
    try:
        frame = json.loads(text)
    except ValueError:
        return None
    items = frame.get("data") if isinstance(frame, dict) else None
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and item.get("taskType") == "authentication":
            uuid = item.get("connectionSessionUUID")
            return uuid if isinstance(uuid, str) else None
    return None
