"""The runware-sdk client: one per process and event loop, the portal's only way to Runware.

The SDK's client holds one WebSocket session and futures bound to the loop that made it, so each
event loop gets its own, made on first use inside that loop. The portal's Runware key goes from
settings to this client and nowhere else. The runner closes the loop's client when it shuts down.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref

from django.conf import settings
from runware import Runware

_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Runware] = weakref.WeakKeyDictionary()


async def shared_client() -> Runware:
    """This event loop's client (named so that callers can keep `client` for the object)."""
    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None:
        client = _clients[loop] = _new_client()
    return client


async def close_shared_client(timeout: float) -> None:
    """Close this loop's client, if it has one, waiting at most `timeout` seconds: the SDK's close
    can wait on a reconnect in progress, which must never hold up a worker's shutdown."""
    client = _clients.pop(asyncio.get_running_loop(), None)
    if client is not None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.close(), timeout=timeout)


def _new_client() -> Runware:
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
    )
