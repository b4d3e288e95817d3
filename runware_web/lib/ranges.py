"""HTTP Range requests on the portal's own files, so a browser can seek in a video.

A `Range: bytes=a-b` (or `a-`, or `-n`) gets `206 Partial Content` with only those bytes and a
`Content-Range`; a range that starts past the end gets `416` with `Content-Range: bytes */size`.
A header the portal cannot read (several ranges, another unit) is ignored: the whole file, as
RFC 9110 allows. The bytes are sent as they are read (lib.streaming), never read whole first.
"""

from __future__ import annotations

import re
from typing import IO, Any

from django.http import HttpRequest, HttpResponse

from runware_web.lib.streaming import StreamedFileResponse

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class _Slice:
    """`length` bytes of an open file from where it stands: what a 206 sends."""

    def __init__(self, handle: IO[bytes], length: int) -> None:
        self.handle, self.left = handle, length

    def read(self, size: int = -1) -> bytes:
        if self.left <= 0:
            return b""
        size = self.left if size is None or size < 0 else min(size, self.left)
        block = self.handle.read(size)
        self.left -= len(block)
        return block

    def close(self) -> None:
        self.handle.close()


def parse_range(header: str, size: int) -> tuple[int, int] | None | bool:
    """(first, last) byte asked for; None when there is no range to honour; False when unsatisfiable."""
    match = _RANGE.match(header.strip().replace(" ", ""))
    if not match or match.groups() == ("", ""):
        return None
    first, last = match.groups()
    if first == "":  # the last n bytes
        length = int(last)
        return (max(0, size - length), size - 1) if length and size else False
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or end < start:
        return False
    return start, end


def ranged_file_response(
    request: HttpRequest, handle: IO[bytes], *, size: int, content_type: str, **extra: Any
) -> HttpResponse:
    """The file (200), the part the request's Range asks for (206), or 416."""
    wanted = parse_range(request.headers.get("Range", ""), size)
    if wanted is False:
        handle.close()
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
    elif wanted is None:
        response = StreamedFileResponse(handle, content_type=content_type, **extra)
    else:
        start, end = wanted
        handle.seek(start)
        response = StreamedFileResponse(_Slice(handle, end - start + 1), content_type=content_type, **extra)
        response.status_code = 206
        response["Content-Length"] = str(end - start + 1)
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    response["Accept-Ranges"] = "bytes"
    return response
