"""The base of every page's WebSocket: login required, the member's group, JSON in, HTML out.

Pages use the htmx ws extension: `ws-send` forms arrive as JSON objects of their fields (plus a
HEADERS object htmx adds), and every message we send is HTML that htmx swaps in by element id
(out-of-band). Bad frames get an error fragment; the socket stays open.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from channels.generic.websocket import AsyncWebsocketConsumer
from django.template.loader import render_to_string

from runware_web.lib.groups import user_group
from runware_web.runner import runner

log = logging.getLogger(__name__)

MAX_FRAME_BYTES = 256 * 1024


class PortalConsumer(AsyncWebsocketConsumer):
    #: Which features' task updates this page shows (the `feature` of a Task).
    features: tuple[str, ...] = ()
    #: The action used when a frame names none (a plain `ws-send` form).
    default_action = ""

    group: str | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close()  # before accept(): the handshake is refused with 403
            return
        self.user = user
        self.group = user_group(user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await runner.ensure_started()
        await self.on_connected()

    async def disconnect(self, code: int) -> None:
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def on_connected(self) -> None:
        """Send the current state, so a reconnecting page is never stale."""

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is None:
            await self.send_error("This socket only takes text messages.")
            return
        if len(text_data.encode()) > MAX_FRAME_BYTES:
            await self.send_error("That message is too large. Upload images through the upload field.")
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
