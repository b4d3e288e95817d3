"""Putting images into the portal's own storage (the gallery never depends on Runware's URLs).

Used by every piece that produces images: the studio, the tools, uploads. How task parameters
name a stored image is media.refs.
"""

from __future__ import annotations

import base64
import io
from decimal import Decimal
from typing import Any

import aiohttp
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from PIL import Image as PILImage

from runware_web.accounts.models import User
from runware_web.media.models import Image
from runware_web.media.uploads import ALLOWED_FORMATS

THUMBNAIL_SIZE = 384
_DOWNLOAD_TIMEOUT = aiohttp.ClientTimeout(total=60)


async def result_bytes(item: dict[str, Any], prefix: str = "image") -> bytes:
    """The bytes of a result item's output, whichever `outputType` it came in.

    `prefix` is the item's field prefix: "image" (imageURL…), "guideImage", "maskImage".
    """
    if data := item.get(f"{prefix}Base64Data"):
        return base64.b64decode(data)
    if data_uri := item.get(f"{prefix}DataURI"):
        return base64.b64decode(data_uri.split(",", 1)[1])
    url = item.get(f"{prefix}URL")
    if not url:
        raise ValueError(f"The result has no {prefix} in it.")
    async with aiohttp.ClientSession(timeout=_DOWNLOAD_TIMEOUT) as session, session.get(url) as response:
        response.raise_for_status()
        return await response.read()


def save_image(
    *,
    user: User,
    data: bytes,
    kind: str = Image.Kind.GENERATED,
    task: Any = None,
    source: Image | None = None,
    prompt: str = "",
    model: str = "",
    seed: int | None = None,
    nsfw: bool | None = None,
    cost: Decimal | None = None,
    runware_uuid: str = "",
    original_name: str = "",
) -> Image:
    """Store an image and its thumbnail and create its row (sync: call from a DB thread)."""
    with PILImage.open(io.BytesIO(data)) as picture:
        picture.load()
        width, height = picture.size
        content_type = ALLOWED_FORMATS.get(picture.format or "", "image/png")
        thumb = _thumbnail(picture)
    image = Image(
        user=user,
        task=task,
        source=source,
        kind=kind,
        content_type=content_type,
        width=width,
        height=height,
        size_bytes=len(data),
        prompt=prompt,
        model=model[:200],
        seed=seed,
        nsfw=nsfw,
        cost=cost,
        runware_uuid=runware_uuid[:64],
        original_name=original_name[:255],
        created_at=timezone.now(),
    )
    image.file.save(f"{image.id}.{image.extension}", ContentFile(data), save=False)
    image.thumbnail.save(f"{image.id}.webp", ContentFile(thumb), save=False)
    try:
        with transaction.atomic():
            image.save()
    except Exception:
        image.file.delete(save=False)
        image.thumbnail.delete(save=False)
        raise
    return image


def _thumbnail(picture: PILImage.Image) -> bytes:
    copy = picture.convert("RGBA" if picture.mode in {"RGBA", "LA", "P"} else "RGB")
    copy.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE))
    out = io.BytesIO()
    copy.save(out, format="WEBP", quality=80)
    return out.getvalue()


def ensure_thumbnail(image: Image) -> None:
    """Make and store the thumbnail of an image that has none yet (made once, then served)."""
    if image.thumbnail:
        return
    with image.file.open("rb") as handle, PILImage.open(handle) as picture:
        picture.load()
        thumb = _thumbnail(picture)
    image.thumbnail.save(f"{image.id}.webp", ContentFile(thumb), save=False)
    if not Image.objects.filter(pk=image.pk, thumbnail="").update(thumbnail=image.thumbnail.name):
        image.thumbnail.delete(save=False)  # another request made it first: keep theirs
        image.refresh_from_db(fields=["thumbnail"])


def has_output(task_id: Any, runware_uuid: str) -> bool:
    """Whether the output Runware named `runware_uuid` of a task is stored, with its file.

    A worker that takes over a dead one's task asks this of every output already charged: one
    charged but not stored (the worker died in between) is fetched and stored again."""
    image = Image.objects.filter(task_id=task_id, runware_uuid=runware_uuid[:64]).first() if runware_uuid else None
    return image is not None and image.file.storage.exists(image.file.name)
