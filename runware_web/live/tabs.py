"""How many page sockets (tabs) a member has open across every worker, for a cap on them.

Each open socket holds one of its member's `MAX_SOCKETS_PER_MEMBER` slots: a key of Django's cache
(Redis in production, so every worker sees it) taken with `add`, which is atomic on Redis and on
locmem, so two workers never take the same slot. A slot holds its socket's token and expires after
`SLOT_SECONDS` unless the socket renews it, so the sockets of a worker killed with `kill -9` stop
counting within that time; a socket that closes gives its slot back at once.

The cap guards against a runaway script or a forgotten pile of tabs, not against an outage: when the
cache cannot be reached nothing is counted and every socket is let in.
"""

from __future__ import annotations

import asyncio
import time

from django.conf import settings
from django.core.cache import cache

from runware_web.lib.outages import CACHE

#: How long a slot outlives the last renewal of its socket (a dead worker's sockets count this long).
SLOT_SECONDS = 60
#: How long a socket over the cap waits for a slot before it is refused. A page that navigates opens
#: its new socket while the old one's close is still on its way to the server: the old slot comes
#: back within this time, and the member is not told off for following a link.
GRACE_SECONDS = 3.0


class TooManySockets(Exception):
    """Every slot of the member is held by another open socket."""

    def __init__(self, cap: int) -> None:
        super().__init__(f"{cap} sockets open")
        self.cap = cap


def renew_every() -> float:
    """Seconds between renewals: three chances before a live socket's slot could expire."""
    return SLOT_SECONDS / 3


def slot_keys(member_id: int, cap: int) -> list[str]:
    return [f"live.sockets.{member_id}.{number}" for number in range(cap)]


async def take_slot(member_id: int, token: str) -> str | None:
    """The key of the slot the socket `token` now holds, or None when nothing is counted (the cap is
    off, or the cache is away). Raises TooManySockets when the member's slots are all held for
    `GRACE_SECONDS`."""
    cap = settings.MAX_SOCKETS_PER_MEMBER
    if cap <= 0:
        return None
    keys = slot_keys(member_id, cap)
    deadline = time.monotonic() + GRACE_SECONDS
    while True:
        try:
            held = await cache.aget_many(keys)  # one round trip; then usually one `add`
            for key in keys:
                if key not in held and await cache.aadd(key, token, SLOT_SECONDS):
                    CACHE.succeeded()
                    return key
        except Exception as exc:  # whatever the backend raises (redis-py's ConnectionError, TimeoutError, …)
            CACHE.failed(exc)
            return None
        CACHE.succeeded()
        if time.monotonic() >= deadline:
            raise TooManySockets(cap)
        await asyncio.sleep(0.1)


async def renew_slot(key: str, token: str) -> None:
    """Keep the slot; take it again if it expired while the cache was away (and nobody took it)."""
    try:
        if await cache.aget(key) == token:
            await cache.atouch(key, SLOT_SECONDS)
        else:
            await cache.aadd(key, token, SLOT_SECONDS)
    except Exception as exc:
        CACHE.failed(exc)
        return
    CACHE.succeeded()


async def release_slot(key: str, token: str) -> None:
    """Give the slot back, unless it expired and another socket holds it now."""
    try:
        if await cache.aget(key) == token:
            await cache.adelete(key)
    except Exception as exc:
        CACHE.failed(exc)  # it expires on its own
        return
    CACHE.succeeded()
