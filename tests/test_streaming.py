"""Files go out while they are read: under Daphne, a worker sends a file's first bytes before it
has read the rest, so a member's large original or zip never sits whole in the worker's memory.

Requests go through the portal's ASGI application as Daphne calls it.
"""

from __future__ import annotations

import asyncio
import io
import os
import warnings
from typing import Any

import pytest
from asgiref.sync import AsyncToSync, sync_to_async
from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.files.storage import FileSystemStorage
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.base import BaseHandler
from django.templatetags.static import static
from django.urls import reverse
from PIL import Image as PILImage

from runware_web.asgi import application
from runware_web.media.models import Image
from runware_web.media.store import save_image

pytestmark = pytest.mark.django_db(transaction=True)


class Response:
    def __init__(self) -> None:
        self.status = 0
        self.headers: dict[bytes, bytes] = {}
        self.body = b""
        self.first_body = asyncio.Event()

    async def send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status, self.headers = message["status"], dict(message["headers"])
        elif message["type"] == "http.response.body":
            if message.get("body"):
                self.first_body.set()
            self.body += message.get("body", b"")


async def get(path: str, *, cookie: str = "", response: Response | None = None) -> Response:
    """GET `path` from the portal's ASGI application, as Daphne would."""
    response = response or Response()
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
        "headers": [(b"host", b"testserver"), (b"cookie", cookie.encode())],
        "client": ("127.0.0.1", 50000), "server": ("testserver", 80),
    }
    requested = False

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()  # the client stays connected
        raise AssertionError("unreachable")

    await application(scope, receive, response.send)
    return response


def noise_png(side: int) -> bytes:
    """A PNG that does not compress: about 3 bytes a pixel."""
    out = io.BytesIO()
    PILImage.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
async def alice_cookie(async_client, user) -> str:
    await async_client.aforce_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={async_client.cookies[settings.SESSION_COOKIE_NAME].value}"


@pytest.fixture
def opened_files(monkeypatch) -> list[Any]:
    """The files the portal opens from its media storage, as they are being read."""
    opened: list[Any] = []
    original = FileSystemStorage._open

    def tracked(storage: FileSystemStorage, name: str, mode: str = "rb") -> Any:
        file = original(storage, name, mode)
        opened.append(file.file)
        return file

    monkeypatch.setattr(FileSystemStorage, "_open", tracked)
    return opened


@pytest.mark.parametrize("url_name", ["gallery:file", "gallery:download"])
async def test_a_large_original_starts_going_out_before_it_is_read_whole(alice_cookie, user, opened_files, url_name):
    data = noise_png(700)  # about 1.4 MB
    image = await sync_to_async(save_image)(user=user, data=data, kind=Image.Kind.GENERATED, prompt="static")
    response = Response()
    read_when_first_sent: list[int] = []

    async def note_position() -> None:
        await response.first_body.wait()
        read_when_first_sent.append(opened_files[-1].tell())

    watcher = asyncio.ensure_future(note_position())
    await get(reverse(url_name, args=[image.pk]), cookie=alice_cookie, response=response)
    await watcher

    assert response.status == 200
    assert response.body == data
    assert int(response.headers[b"Content-Length"]) == len(data)
    assert read_when_first_sent[0] < len(data) / 2, "the whole file was read before its first byte went out"


async def test_static_files_are_served_without_reading_them_whole_first():
    """WhiteNoise's files too: Django would otherwise read each into memory and warn about it."""
    with open(finders.find("css/portal.css"), "rb") as handle:
        expected = handle.read()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        response = await get(static("css/portal.css"))

    assert response.status == 200 and response.body == expected
    assert b"text/css" in response.headers[b"Content-Type"]
    assert not [warning for warning in caught if "synchronous iterators" in str(warning.message)]



def test_no_middleware_makes_a_thread_wait_on_the_event_loop(monkeypatch):
    """No synchronous middleware: otherwise Django runs each request's middleware in a thread that
    waits on the event loop for the async views (async_to_sync), and a worker stopped mid-request
    never exits (its interpreter waits for that thread, which waits for a loop that has stopped)."""
    waiting = []
    adapt = BaseHandler.adapt_method_mode

    def recording(self, is_async, method, *args, **kwargs):
        adapted = adapt(self, is_async, method, *args, **kwargs)
        if isinstance(adapted, AsyncToSync):
            waiting.append(method)
        return adapted

    monkeypatch.setattr(BaseHandler, "adapt_method_mode", recording)
    ASGIHandler().load_middleware(is_async=True)
    assert waiting == []


async def test_pages_and_static_files_are_served_by_the_async_middleware_chain(alice_cookie):
    page = await get(reverse("gallery:index"), cookie=alice_cookie)
    assert page.status == 200 and b"Your gallery" in page.body
    static_file = await get(static("js/portal.js"))
    assert static_file.status == 200 and static_file.body
