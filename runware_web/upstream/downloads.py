"""Fetching what Runware made (images, video, audio, 3D files) from the URLs in its results.

One HTTP session per event loop, as the SDK's client is (client.py): its connections to Runware's
content host stay open and are reused, so a result's bytes come over a connection already made
instead of a new one each (a connection made and closed per result was a sixth of a worker's CPU
under a script's load). The runner closes the loop's session with its client when it shuts down.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator

import aiohttp

_sessions: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aiohttp.ClientSession] = weakref.WeakKeyDictionary()


@contextlib.asynccontextmanager
async def fetch(url: str, timeout: aiohttp.ClientTimeout) -> AsyncIterator[aiohttp.ClientResponse]:
    """The response for a GET of `url`, its status checked (raises aiohttp.ClientResponseError)."""
    async with _session().get(url, timeout=timeout) as response:
        response.raise_for_status()
        yield response


def _session() -> aiohttp.ClientSession:
    loop = asyncio.get_running_loop()
    session = _sessions.get(loop)
    if session is None or session.closed:
        session = _sessions[loop] = aiohttp.ClientSession()
    return session


async def close_downloads() -> None:
    """Close this loop's session, if it has one (its kept connections with it)."""
    session = _sessions.pop(asyncio.get_running_loop(), None)
    if session is not None:
        await session.close()
