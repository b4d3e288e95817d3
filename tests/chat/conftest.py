"""Chat test helpers: conversations, a slower stream when a test must watch it grow, and a
reply the simulated model is made to write."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from runware_web.chat.models import Conversation
from runware_web.chat.routing import websocket_urlpatterns


@pytest.fixture
def slow_stream(simulator):
    """Chunks ~`seconds` apart, so a reply streams long enough to watch (or stop) it."""

    def set_delay(seconds: float = 0.03) -> None:
        simulator.set_stream_chunk_delay(seconds)

    yield set_delay
    simulator.set_stream_chunk_delay(0.0)


@pytest.fixture
def model_says(monkeypatch):
    """Make every simulated text model answer exactly `text` (the simulator otherwise writes its own
    deterministic reply, which never contains HTML)."""
    from runware_web.simulator import text as simulated_text

    def say(text: str) -> None:
        monkeypatch.setattr(simulated_text, "_answer", lambda *args, **kwargs: text)

    return say


def make_conversation(user, **fields) -> Conversation:
    return Conversation.objects.create(user=user, **fields)


acreate_conversation = database_sync_to_async(make_conversation)


def chat_socket(user, conversation: Conversation | None = None) -> WebsocketCommunicator:
    path = "/ws/chat/" + (f"?conversation={conversation.pk}" if conversation else "")
    ws = WebsocketCommunicator(URLRouter(websocket_urlpatterns), path)
    ws.scope["user"] = user
    return ws
