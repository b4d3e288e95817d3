"""Helpers for the tools' tests: real images in the gallery, and a socket to /ws/tools/."""

from __future__ import annotations

import io
import re

import pytest
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from PIL import Image as PILImage

from runware_web.media.models import Image
from runware_web.media.store import save_image
from runware_web.tools.routing import websocket_urlpatterns

tools_app = URLRouter(websocket_urlpatterns)


def png_bytes(width: int = 96, height: int = 64, *, mode: str = "RGB", fmt: str = "PNG") -> bytes:
    """A picture with a clear subject (a dark square on a light background), so every tool has work to do."""
    picture = PILImage.new(mode, (width, height), (235, 235, 240) if mode == "RGB" else 200)
    inner = (width // 4, height // 4, 3 * width // 4, 3 * height // 4)
    picture.paste((40, 60, 160) if mode == "RGB" else 30, inner)
    out = io.BytesIO()
    picture.save(out, format=fmt)
    return out.getvalue()


def make_image(user, *, width: int = 96, height: int = 64, kind: str = Image.Kind.GENERATED, prompt: str = "") -> Image:
    return save_image(user=user, data=png_bytes(width, height), kind=kind, prompt=prompt, model="runware:101@1")


@pytest.fixture
def image(user) -> Image:
    return make_image(user, prompt="a blue square on a white wall")


@pytest.fixture
def other_image(other_user) -> Image:
    return make_image(other_user, prompt="mallory's picture")


async def tools_socket(user, image: Image | None = None) -> WebsocketCommunicator:
    """A connected /ws/tools/ socket of `user`, past the state sent on connect."""
    path = "/ws/tools/" + (f"?image={image.pk}" if image is not None else "")
    ws = WebsocketCommunicator(tools_app, path)
    ws.scope["user"] = user
    connected, _ = await ws.connect()
    assert connected
    if image is not None:
        assert 'id="tool-results"' in await ws.receive_from(timeout=5)
    return ws


async def receive_until(ws: WebsocketCommunicator, needle: str, timeout: float = 10) -> str:
    """Frames until one contains `needle` (the socket may also carry other updates)."""
    while True:
        frame = await ws.receive_from(timeout=timeout)
        if needle in frame:
            return frame


def started_task_id(frame: str) -> str:
    match = re.search(r'id="tool-run-([0-9a-f-]{36})"', frame)
    assert match, f"no run card in {frame[:300]!r}"
    return match.group(1)


aget_image = database_sync_to_async(lambda pk: Image.objects.get(pk=pk))
