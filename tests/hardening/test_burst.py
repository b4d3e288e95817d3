"""A burst of sockets: many tabs opening at once on one worker all get in, and all see a
generation started in one of them (the channel layer's fan-out)."""

from __future__ import annotations

import asyncio

import pytest
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.conf import settings

from runware_web.routing import websocket_urlpatterns
from runware_web.upstream.models import Task

pytestmark = pytest.mark.django_db(transaction=True)

TABS = 150  # more than redis-py's default pool of 100 connections
on_redis = "Redis" in settings.CHANNEL_LAYERS["default"]["BACKEND"]


async def test_a_burst_of_tabs_all_connect_and_all_see_a_generation(user, upstream, settings):
    settings.MAX_SOCKETS_PER_MEMBER = 0  # one member's tabs here: the per-member cap is tests/live/test_tabs.py's
    app = URLRouter(websocket_urlpatterns)

    async def tab() -> WebsocketCommunicator:
        ws = WebsocketCommunicator(app, "/ws/studio/")
        ws.scope["user"] = user
        connected, _ = await ws.connect(timeout=30)
        assert connected
        await ws.receive_from(timeout=30)  # the results list sent on connecting
        return ws

    tabs = await asyncio.gather(*(tab() for _ in range(TABS)), return_exceptions=True)
    opened = [t for t in tabs if not isinstance(t, BaseException)]
    try:
        assert len(opened) == TABS, f"{TABS - len(opened)} of {TABS} tabs were refused: {tabs[0]!r}"
        await opened[0].send_json_to({"action": "generate", "positivePrompt": "a lighthouse", "model": "runware:101@1",
                                      "width": "128", "height": "128", "numberResults": "1", "steps": "4"})
        task = None
        for ws in opened:
            while True:
                frame = await ws.receive_from(timeout=30)
                if 'id="gen-' in frame:
                    break
        task = await Task.objects.aget(user=user)
        await upstream.wait(task.pk)
    finally:
        await asyncio.gather(*(ws.disconnect() for ws in opened), return_exceptions=True)
