"""Small helpers shared by the studio's tests."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from typing import Any

from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from PIL import Image as PILImage

from runware_web.media.models import Image
from runware_web.media.store import save_image
from runware_web.studio.routing import websocket_urlpatterns

PROMPT = "a lighthouse at dusk, oil painting"

studio_app = URLRouter(websocket_urlpatterns)


def request(**fields: Any) -> dict[str, Any]:
    """A studio request as the page's ws-send form sends it (strings, repeated fields as lists)."""
    data = {
        "action": "generate",
        "positivePrompt": PROMPT,
        "model": "runware:101@1",
        "width": "256",
        "height": "256",
        "numberResults": "1",
        "steps": "4",
        "outputFormat": "PNG",
        "HEADERS": {"HX-Request": "true", "HX-Trigger": "studio-form"},
    }
    data.update({name: value if isinstance(value, list) else str(value) for name, value in fields.items()})
    return data


async def connect(user: Any, path: str = "/ws/studio/") -> WebsocketCommunicator:
    """A studio socket of `user`, past the state it is sent on connecting."""
    ws = WebsocketCommunicator(studio_app, path)
    ws.scope["user"] = user
    connected, _ = await ws.connect()
    assert connected
    await ws.receive_from(timeout=10)
    return ws


async def receive_until(ws: WebsocketCommunicator, wanted: Callable[[str], bool], timeout: float = 15) -> str:
    """The first frame that `wanted` accepts (frames before it are skipped)."""
    while True:
        frame = await ws.receive_from(timeout=timeout)
        if wanted(frame):
            return frame


def card_id(frame: str) -> str:
    match = re.search(r'id="gen-([0-9a-f-]{36})"', frame)
    assert match, frame
    return match.group(1)


def png_bytes(width: int = 96, height: int = 64, colour: tuple[int, int, int] = (40, 120, 200)) -> bytes:
    out = io.BytesIO()
    PILImage.new("RGB", (width, height), colour).save(out, format="PNG")
    return out.getvalue()


@database_sync_to_async
def uploaded_image(user: Any, width: int = 256, height: int = 256) -> Image:
    return save_image(user=user, data=png_bytes(width, height), kind=Image.Kind.UPLOADED, original_name="in.png")
