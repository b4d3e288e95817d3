"""Helpers shared by the hardening tests: members' sockets through the real ASGI application
(Origin check, session auth, routing), and objects that belong to someone."""

from __future__ import annotations

import io
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client
from PIL import Image as PILImage

from runware_web.asgi import application
from runware_web.chat.models import Conversation, Message
from runware_web.media.models import Image
from runware_web.media.store import save_image
from runware_web.upstream.models import Task

ORIGIN = "http://testserver"
ALERT = 'role="alert"'


def png_bytes(width: int = 96, height: int = 64, colour: tuple[int, int, int] = (40, 120, 200)) -> bytes:
    out = io.BytesIO()
    picture = PILImage.new("RGB", (width, height), (235, 235, 240))
    picture.paste(colour, (width // 4, height // 4, 3 * width // 4, 3 * height // 4))
    picture.save(out, format="PNG")
    return out.getvalue()


def session_cookie_of(user: Any) -> str:
    """The `Cookie` header of a logged-in browser of `user` (sync)."""
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}"


async def member_socket(user: Any, path: str, *, origin: str | None = ORIGIN) -> WebsocketCommunicator:
    """An unconnected socket of `user` to the real application, as a browser of ours opens it."""
    headers = [(b"cookie", (await database_sync_to_async(session_cookie_of)(user)).encode())]
    if origin:
        headers.append((b"origin", origin.encode()))
    return WebsocketCommunicator(application, path, headers=headers)


async def connected(user: Any, path: str) -> WebsocketCommunicator:
    ws = await member_socket(user, path)
    ok, _ = await ws.connect(timeout=10)
    assert ok, f"{path} refused {user}"
    return ws


async def receive_until(ws: WebsocketCommunicator, wanted: Callable[[str], bool], timeout: float = 15) -> str:
    """The first frame `wanted` accepts (state sent on connect and other updates are skipped)."""
    while True:
        frame = await ws.receive_from(timeout=timeout)
        if wanted(frame):
            return frame


async def receive_alert(ws: WebsocketCommunicator, timeout: float = 10) -> str:
    return await receive_until(ws, lambda frame: ALERT in frame, timeout)


async def drain(ws: WebsocketCommunicator) -> list[str]:
    """Every frame already queued on the socket (e.g. the state sent on connect)."""
    frames = []
    while not await ws.receive_nothing(timeout=0.2):
        frames.append(await ws.receive_from())
    return frames


def make_image(user: Any, prompt: str = "a blue square on a white wall", **fields: Any) -> Image:
    return save_image(user=user, data=png_bytes(), kind=fields.pop("kind", Image.Kind.GENERATED), prompt=prompt,
                      model="runware:101@1", **fields)


def make_task(user: Any, *, feature: str = "studio", status: str = Task.Status.DONE, **fields: Any) -> Task:
    params = fields.pop("params", {"model": "runware:101@1", "positivePrompt": "mallory's secret lighthouse",
                                   "width": 256, "height": 256, "numberResults": 1})
    return Task.objects.create(
        user=user, team_id=user.team_id, feature=feature, task_type=fields.pop("task_type", "imageInference"),
        model=params.get("model", ""), params=params, status=status, cost=fields.pop("cost", Decimal("0.0041")),
        **fields,
    )


def make_conversation(user: Any, title: str = "Mallory's plans") -> Conversation:
    conversation = Conversation.objects.create(user=user, title=title)
    Message.objects.create(conversation=conversation, role=Message.Role.USER, content="the secret is 42")
    task = make_task(user, feature="chat", task_type="textInference", params={"model": conversation.model})
    Message.objects.create(conversation=conversation, role=Message.Role.ASSISTANT, content="noted", task=task)
    return conversation
