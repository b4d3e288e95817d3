"""File responses that Daphne sends while it reads them.

Under ASGI, Django serves a response whose content iterates synchronously (a FileResponse over an
open file) by reading all of it into memory first and sending it afterwards
(`StreamingHttpResponse.__aiter__`, which warns about it). A zip of a hundred originals would sit
whole in the worker's memory for each download. The responses here read one block at a time in a
worker thread and send each block as soon as it is read. Under WSGI and in the test client they
iterate as FileResponse does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from inspect import isawaitable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings as django_settings
from django.http import FileResponse, HttpRequest
from whitenoise.middleware import WhiteNoiseFileResponse, WhiteNoiseMiddleware

BLOCK_SIZE = 256 * 1024  # one thread hop per block: a 5 MB original is 20 reads


class _SentAsRead:
    file_to_stream: Any
    streaming_content: Any

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self.file_to_stream is None:  # no file: content already in memory (an empty body)
            for part in self.streaming_content:
                yield part
            return
        read = sync_to_async(self.file_to_stream.read, thread_sensitive=False)
        while block := await read(BLOCK_SIZE):
            yield block


class StreamedFileResponse(_SentAsRead, FileResponse):
    """A FileResponse for the portal's own files: originals, downloads, zips."""


class _StaticFileResponse(_SentAsRead, WhiteNoiseFileResponse):
    pass


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    """WhiteNoise, able to run in the event loop, and sending files as it reads them.

    WhiteNoise 6 is synchronous only. One synchronous middleware makes Django run every request's
    middleware chain in a thread that waits on the event loop for async views (`async_to_sync`):
    two thread hops per request, and a thread that never ends when a worker stops mid-request, so
    the process hangs at exit after SIGTERM. The rest of the portal's middleware is async-capable.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Any = None, settings: Any = django_settings) -> None:
        super().__init__(get_response, settings)
        if iscoroutinefunction(self.get_response):
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if iscoroutinefunction(self):
            return self.__acall__(request)
        return super().__call__(request)

    async def __acall__(self, request: HttpRequest) -> Any:
        # WhiteNoise's own lookup: a static file's response, or the rest of the chain's coroutine.
        response = super().__call__(request)
        return await response if isawaitable(response) else response

    @staticmethod
    def serve(static_file: Any, request: HttpRequest) -> _StaticFileResponse:
        # WhiteNoiseMiddleware.serve, with the response class above.
        response = static_file.get_response(request.method, request.META)
        http_response = _StaticFileResponse(response.file or (), status=int(response.status))
        del http_response["content-type"]  # WhiteNoise's own headers say what the file is
        for key, value in response.headers:
            http_response[key] = value
        return http_response
