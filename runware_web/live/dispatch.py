"""The portal's WebSocket consumers' base: messages dispatched without a trip to the sync thread.

Channels' `AsyncConsumer.dispatch` runs `close_old_connections` through `sync_to_async` before
every message it hands to a handler: a trip to the sync thread the whole worker shares, for every
frame a socket receives and every event its groups send. Behind that thread's other work (the
requests' and sockets' database calls), a script's task frame waited milliseconds before the
consumer read it. The portal's consumers never touch the database on the event loop: each of their
database calls goes through `database_sync_to_async`, which closes old connections itself, in the
thread that uses them, before and after the call. So the trip is skipped, and a frame reaches
its handler in the same turn of the loop.
"""

from __future__ import annotations

from typing import Any

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncWebsocketConsumer


class DirectDispatchConsumer(AsyncWebsocketConsumer):
    async def dispatch(self, message: dict[str, Any]) -> None:
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)
