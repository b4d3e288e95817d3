"""The base of every page's WebSocket: login required, the member's group, JSON in, HTML out.

Pages use the htmx ws extension: `ws-send` forms arrive as JSON objects of their fields (plus a
HEADERS object htmx adds), and every message we send is HTML that htmx swaps in by element id
(out-of-band). Bad frames get an error fragment; the socket stays open.

A socket is closed on purpose, with a code the page reads (static/js/portal.js), for:
- a message over MAX_FRAME_BYTES: 1009 ("Message Too Big"), sent by Daphne itself as the portal runs
  it (live.server), before the message reaches a consumer; the page says why and reconnects.
- one socket more than a member may hold (live.tabs): accepted, told why, and closed with 4429, a code
  the htmx ws extension does not reconnect on.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from typing import Any

from django.template.loader import render_to_string

from runware_web.lib.groups import user_group
from runware_web.live.dispatch import DirectDispatchConsumer
from runware_web.live.tabs import TooManySockets, release_slot, renew_every, renew_slot, take_slot
from runware_web.runner import runner

log = logging.getLogger(__name__)

#: The close code the page reads for one socket too many (429 in HTTP).
CLOSE_TOO_MANY_SOCKETS = 4429


class PortalConsumer(DirectDispatchConsumer):
    #: Which features' task updates this page shows (the `feature` of a Task).
    features: tuple[str, ...] = ()
    #: The action used when a frame names none (a plain `ws-send` form).
    default_action = ""

    group: str | None = None
    #: The cache key of this socket's slot among its member's open sockets (live.tabs), if counted.
    slot: str | None = None
    _renewal: asyncio.Task[None] | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Whatever ends the consumer (a disconnect, or Daphne cancelling it), the slot's renewal stops
        and the slot is given back: a renewal outliving its socket would count it for ever."""
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self._give_back_slot()

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close()  # before accept(): the handshake is refused with 403
            return
        self.user = user
        if not await self._take_slot():
            return
        self.group = user_group(user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await runner.ensure_started()
        await self.on_connected()

    async def _take_slot(self) -> bool:
        """Count this socket among the member's; False (and the socket told why, then closed) if it is
        one too many."""
        self.slot_token = secrets.token_hex(8)
        try:
            self.slot = await take_slot(self.user.pk, self.slot_token)
        except TooManySockets as full:
            await self.accept()  # refused after accepting: a refused handshake is retried by the page
            await self.send_error(
                f"You have too many portal tabs open (more than {full.cap}). Close some and reload this page."
            )
            await self.close(code=CLOSE_TOO_MANY_SOCKETS)
            return False
        if self.slot is not None:
            self._renewal = asyncio.create_task(self._renew_slot())
        return True

    async def _renew_slot(self) -> None:
        while self.slot is not None:
            await asyncio.sleep(renew_every())
            await renew_slot(self.slot, self.slot_token)

    async def _give_back_slot(self) -> None:
        if self._renewal is not None:
            self._renewal.cancel()
            self._renewal = None
        slot, self.slot = self.slot, None
        if slot is not None:
            await release_slot(slot, self.slot_token)

    async def disconnect(self, code: int) -> None:
        await self._give_back_slot()
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def on_connected(self) -> None:
        """Send the current state, so a reconnecting page is never stale."""

    async def live_restored(self, event: dict[str, Any]) -> None:
        """The channel layer is back after an outage (live.layer): catch up on what the tab missed."""
        await self.on_connected()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is None:
            await self.send_error("This socket only takes text messages.")
            return
        try:
            data = json.loads(text_data)
        except ValueError:
            await self.send_error("That message could not be read (it is not JSON).")
            return
        if not isinstance(data, dict):
            await self.send_error("That message could not be read (expected an object of fields).")
            return
        data.pop("HEADERS", None)
        action = data.pop("action", None) or self.default_action
        method = getattr(self, f"action_{action}", None) if isinstance(action, str) and action.isidentifier() else None
        if method is None:
            await self.send_error("Unknown action.")
            return
        try:
            await method(data)
        except Exception:
            log.exception("Handling %r on %s failed", action, type(self).__name__)
            await self.send_error("Something went wrong while handling that. Please try again.")

    async def task_update(self, event: dict[str, Any]) -> None:
        """A task of this member changed (sent by the runner to the member's group)."""
        if event.get("feature") in self.features:
            await self.send(text_data=event["html"])

    async def send_html(self, html: str) -> None:
        if html:
            await self.send(text_data=html)

    async def send_error(self, message: str) -> None:
        await self.send(text_data=render_to_string("base.html#socket-error", {"message": message}))
