"""channels_redis's channel layer, with sockets that outlive a Redis outage.

Stock channels_redis raises from `receive()` as soon as Redis goes away, which ends every consumer
of the worker: each tab's socket closes, and reconnects fail the same way until Redis is back. Here
a socket stays open and its page keeps working (actions over the socket, plain HTTP):

- `group_add` / `group_discard` that fail are noted, not raised; the layer remembers the groups of
  each of this worker's channels, so it can join them again.
- a `receive()` that fails waits until Redis answers again (one probe per event loop, backing off
  to 5 s), joins the channel's groups again (a Redis restarted empty has forgotten them), and hands
  the consumer a `{"type": "live.restored"}` message: `PortalConsumer.live_restored` sends the
  page's current state, so the tab catches up with what it missed.

`group_send` still raises: its callers decide (the runner's publish drops the push; /healthz says
the layer is down). Every failure and recovery goes to `lib.outages.CHANNEL_LAYER`.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

from channels_redis.core import RedisChannelLayer
from redis.exceptions import RedisError

from runware_web.lib.outages import CHANNEL_LAYER

RESTORED = {"type": "live.restored"}
PROBE_DELAYS = (0.2, 0.5, 1.0, 2.0, 5.0)  # seconds between two pings while Redis is away
_ERRORS = (RedisError, OSError)


class OutageTolerantLayer(RedisChannelLayer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.joined: dict[str, set[str]] = {}  # this worker's channels → their groups
        self._probes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Task[None]] = (
            weakref.WeakKeyDictionary()
        )

    async def group_add(self, group: str, channel: str) -> None:
        self.joined.setdefault(channel, set()).add(group)
        try:
            await super().group_add(group, channel)
        except _ERRORS as exc:  # joined again once Redis is back (see receive)
            CHANNEL_LAYER.failed(exc)

    async def group_discard(self, group: str, channel: str) -> None:
        groups = self.joined.get(channel, set())
        groups.discard(group)
        if not groups:
            self.joined.pop(channel, None)
        try:
            await super().group_discard(group, channel)
        except _ERRORS as exc:  # the membership expires in Redis by itself (group_expiry)
            CHANNEL_LAYER.failed(exc)

    async def receive(self, channel: str) -> dict[str, Any]:
        try:
            return await super().receive(channel)
        except _ERRORS as exc:
            CHANNEL_LAYER.failed(exc)
        await self.reachable()
        for group in list(self.joined.get(channel, ())):
            await self.group_add(group, channel)
        return dict(RESTORED)

    async def reachable(self) -> None:
        """Return once every Redis of the layer answers a ping (one shared probe per event loop)."""
        loop = asyncio.get_running_loop()
        probe = self._probes.get(loop)
        if probe is None or probe.done():
            probe = self._probes[loop] = loop.create_task(self._probe())
        await asyncio.shield(probe)

    async def _probe(self) -> None:
        attempt = 0
        while True:
            await asyncio.sleep(PROBE_DELAYS[min(attempt, len(PROBE_DELAYS) - 1)])  # never a busy loop
            attempt += 1
            try:
                for index in range(self.ring_size):
                    await self.connection(index).ping()
            except _ERRORS:
                continue
            CHANNEL_LAYER.succeeded()
            return
