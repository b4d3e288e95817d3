"""Putting videos into the portal's own storage: streamed, never read whole into memory.

A video result is fetched from Runware's URL into a temporary file block by block, read by PyAV
for its size, duration and first frame (the poster, the gallery's thumbnail), then copied into
storage block by block (Django's storage reads a `File` in chunks). A 200 MB clip costs the worker
one block of memory, not 200 MB.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import aiohttp
import av
from django.utils import timezone

from runware_web.accounts.models import User
from runware_web.media.models import Image
from runware_web.media.store import save_downloaded
from runware_web.media.thumbnails import make_thumbnail
from runware_web.upstream.downloads import fetch

_DOWNLOAD_TIMEOUT = aiohttp.ClientTimeout(total=600, sock_read=60)
_BLOCK = 256 * 1024
_CONTENT_TYPES = {"mp4": "video/mp4", "webm": "video/webm", "mov": "video/quicktime"}


@dataclass(frozen=True)
class Probe:
    """What PyAV read of a clip: its frame size, length and first frame as a thumbnail."""

    width: int
    height: int
    duration: float | None
    poster: bytes | None


async def download(url: str) -> str:
    """Fetch a video into a temporary file, block by block; its path (the caller removes it)."""
    fd, path = tempfile.mkstemp(prefix="runware-video-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as handle:
            async with fetch(url, _DOWNLOAD_TIMEOUT) as response:
                async for block in response.content.iter_chunked(_BLOCK):
                    handle.write(block)
    except BaseException:
        os.unlink(path)
        raise
    return path


def probe(path: str) -> Probe:
    """Size, duration and poster (first decoded frame) of a clip on disk."""
    with av.open(path) as container:
        stream = container.streams.video[0]
        width, height = stream.codec_context.width, stream.codec_context.height
        duration = container.duration / av.time_base if container.duration else None
        poster = None
        for frame in container.decode(stream):
            poster = make_thumbnail(frame.to_image())
            break
    return Probe(width=width, height=height, duration=duration, poster=poster)


def save_video(
    *,
    user: User,
    path: str,
    url: str = "",
    task: Any = None,
    prompt: str = "",
    model: str = "",
    seed: int | None = None,
    cost: Decimal | None = None,
    runware_uuid: str = "",
    kind: str = Image.Kind.GENERATED,
    source: Image | None = None,
) -> Image:
    """Store a video (a file on disk, copied in blocks) and its poster, and create its row (sync).
    `kind` and `source`: a video a tool made from another (upscaled, background removed)."""
    info = probe(path)
    extension = os.path.splitext(url.split("?", 1)[0])[1].lstrip(".").lower() or "mp4"
    video = Image(
        user=user,
        task=task,
        source=source,
        kind=kind,
        media_type=Image.MediaType.VIDEO,
        content_type=_CONTENT_TYPES.get(extension, "video/mp4"),
        width=info.width,
        height=info.height,
        duration=info.duration,
        size_bytes=os.path.getsize(path),
        prompt=prompt,
        model=model[:200],
        seed=seed,
        cost=cost,
        runware_uuid=runware_uuid[:64],
        created_at=timezone.now(),
    )
    return save_downloaded(video, path, info.poster)
