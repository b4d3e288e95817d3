"""How large a request a worker takes in, enforced at the door of the ASGI application.

Where an upload's memory went (measured with benchmarks/upload_memory.py; a 60 MB upload grew a
worker by 800 MiB): not Django, which spools the body and the uploaded files to disk past
FILE_UPLOAD_MAX_MEMORY_SIZE, but Twisted under Daphne. Twisted's request parses every multipart or
url-encoded POST into `request.args` (which Daphne never reads) by reading the whole body into one
string and handing it to the email parser: about 13 copies of the upload. `forms_left_unparsed`
turns that off with Twisted's own switch (`parsePOSTFormSubmission`).

What stays: Daphne waits for the whole body (Twisted writes it to a temporary file on disk) before
it starts the application, then queues it to the application in one go, so a worker holds one
copy of any body it was sent. Only a limit in front of Daphne (the reverse proxy's body size limit,
nginx's `client_max_body_size`) stops a large upload before a worker receives it. `BodySizeLimit`
is the portal's own guard, as early as an ASGI application can be: it answers 413 from the
declared Content-Length without reading the body, and cuts off a body sent without one once it
passes the limit; what it passes on, Django streams to disk.

An accepted upload (a 10 MB PNG of random pixels) grew a worker by 4.25× its size: the upload read
whole into memory, its decoded pixels, its new encoding beside them, then its bytes, pixels and a
full-size copy of them again to make the thumbnail. Now 1.9×, the queued body's copy included:
media.uploads reads the upload from Django's temporary file as it decodes it, spools the new
encoding to disk until the pixels are let go, and makes the thumbnail from those pixels, so
storing it decodes nothing again (media.thumbnails).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from asgiref.sync import sync_to_async
from daphne import http_protocol
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.template.loader import render_to_string

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

TEMPLATE = "errors/too_large.html"


class BodySizeLimit:
    """ASGI middleware: an HTTP request whose body is larger than `settings.REQUEST_MAX_BYTES` is
    answered 413 (a page, or for htmx a toast that leaves the form as the member left it)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = settings.REQUEST_MAX_BYTES
        declared = content_length(scope)
        if declared is not None and declared > limit:
            await refuse(scope, send, declared)  # the body is never asked for
            return
        counted = CountedBody(receive, limit)
        started = False

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, counted.receive, watched_send)
        if counted.over and not started:
            await refuse(scope, send, None)


class CountedBody:
    """The application's `receive`, which counts the body's bytes. Once they pass `limit`, the
    application hears that the client went away (Django then drops what it spooled and answers
    nothing), and the rest of the body is never passed on."""

    def __init__(self, receive: Receive, limit: int) -> None:
        self._receive, self.limit, self.seen, self.over = receive, limit, 0, False

    async def receive(self) -> Message:
        if self.over:
            return {"type": "http.disconnect"}
        message = await self._receive()
        if message["type"] == "http.request":
            self.seen += len(message.get("body", b""))
            if self.seen > self.limit:
                self.over = True
                return {"type": "http.disconnect"}
        return message


def content_length(scope: Scope) -> int | None:
    """The declared body size, or None when there is none (a chunked body) or it is not a number."""
    for name, value in scope.get("headers", ()):
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def refuse(scope: Scope, send: Send, size: int | None) -> None:
    """Answer 413 with what the limit is and what to try."""
    htmx = any(name.lower() == b"hx-request" for name, _ in scope.get("headers", ()))
    context = {
        "size": filesizeformat(size) if size is not None else None,
        "limit": filesizeformat(settings.REQUEST_MAX_BYTES),
        "per_image": filesizeformat(settings.UPLOAD_MAX_BYTES),
    }
    body = (await sync_to_async(render_to_string)(f"{TEMPLATE}#toast" if htmx else TEMPLATE, context)).encode()
    headers = [(b"content-type", b"text/html; charset=utf-8"), (b"content-length", str(len(body)).encode()),
               (b"cache-control", b"no-store"), (b"x-content-type-options", b"nosniff")]
    if htmx:
        headers.append((b"hx-reswap", b"none"))  # only the toast (out of band): the form stays as it is
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class FormsLeftUnparsed(http_protocol.WebRequest):
    """Daphne's request, with Twisted's parsing of form bodies into `request.args` turned off."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["parsePOSTFormSubmission"] = False
        super().__init__(*args, **kwargs)


def forms_left_unparsed() -> None:
    """Make Daphne build its requests as `FormsLeftUnparsed` (it names its request class when each
    connection starts). Called once the ASGI application is imported, before Daphne listens."""
    http_protocol.WebRequest = FormsLeftUnparsed
