"""Putting images into the portal's own storage (the gallery never depends on Runware's URLs).

Used by every piece that produces images: the studio, the tools, uploads. How task parameters
name a stored image is media.refs.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import io
import logging
import os
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import aiohttp
from django.core.files.base import ContentFile, File
from django.core.files.storage import FileSystemStorage, Storage, default_storage
from django.db import IntegrityError, transaction
from django.utils import timezone
from PIL import Image as PILImage

from runware_web.accounts.models import User
from runware_web.media.models import Image
from runware_web.media.thumbnails import make_thumbnail
from runware_web.media.uploads import ALLOWED_FORMATS, CheckedImage
from runware_web.upstream.downloads import fetch

log = logging.getLogger(__name__)

_DOWNLOAD_TIMEOUT = aiohttp.ClientTimeout(total=60)
# Below this much free space /healthz reports the storage as full (an image and its thumbnail
# take a few hundred KB, more for large ones).
ROOM_NEEDED = 1024 * 1024
_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})


class StorageFull(OSError):
    """The disk where the portal keeps images has no room (ENOSPC, or the quota is used up).

    Nothing was stored (what was partly written is removed). The caller keeps what it wanted to
    store and tries again once there is room: the runner keeps billed results (media.pending)."""

    def __init__(self, cause: OSError) -> None:
        super().__init__(cause.errno, f"no room where media go ({where_media_go()}): {cause.strerror}")


def is_full(exc: BaseException) -> bool:
    """Whether an error is the storage being out of room (whatever raised it)."""
    return isinstance(exc, StorageFull) or (isinstance(exc, OSError) and exc.errno in _FULL)


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
    async with fetch(url, _DOWNLOAD_TIMEOUT) as response:
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
    thumbnail: bytes | None = None,
    lazy_thumbnail: bool = False,
    image_id: uuid.UUID | None = None,
    sha256: str = "",
) -> Image:
    """Store an image and its thumbnail and create its row (sync: call from a DB thread).

    `thumbnail`: the one an upload's check made from the pixels it decoded (media.uploads); the
    image is then not decoded again, only its header read. Without it, it is decoded to make one,
    unless `lazy_thumbnail`: then the gallery makes it when it is first shown (ensure_thumbnail),
    for images handed on to a script, which must go fast and are seldom looked at one by one.
    `image_id`: the id the image gets, when it was named before it was stored (the endpoint hands a
    result on before storing it)."""
    with PILImage.open(io.BytesIO(data)) as picture:
        width, height = picture.size
        content_type = ALLOWED_FORMATS.get(picture.format or "", "image/png")
        if thumbnail is None and not lazy_thumbnail:
            picture.load()
            thumbnail = make_thumbnail(picture)
    image = Image(
        id=image_id or uuid.uuid4(),
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
        sha256=sha256,
        created_at=timezone.now(),
    )
    _store_files(image, ContentFile(data), thumbnail)
    return _create_row(image)


#: What a member is told when an upload is a file they had uploaded before.
UPLOADED_BEFORE = "You uploaded this before — using the existing copy."


@dataclass(frozen=True)
class Upload:
    image: Image
    #: The member had uploaded this very file before: `image` is that copy (back from the trash if
    #: it was there), and nothing new was stored. Tell them so (UPLOADED_BEFORE).
    again: bool = False


def save_upload(user: User, checked: CheckedImage, *, kind: str = Image.Kind.UPLOADED,
                source: Image | None = None) -> Upload:
    """Store an image a member uploaded (checked by media.uploads), or hand back the copy of it they
    uploaded before: an upload is recognised by the SHA-256 of what is stored, the same file
    giving the same bytes once checked. A mask painted over a seed image (`source`) is always
    stored: it belongs with that image."""
    if kind != Image.Kind.UPLOADED:
        return Upload(save_image(user=user, data=checked.data, kind=kind, source=source,
                                 original_name=checked.name, thumbnail=checked.thumbnail))
    sha256 = hashlib.sha256(checked.data).hexdigest()
    if earlier := _earlier_upload(user, sha256):
        return Upload(earlier, again=True)
    try:
        image = save_image(user=user, data=checked.data, kind=kind, source=source, original_name=checked.name,
                           thumbnail=checked.thumbnail, sha256=sha256)
    except IntegrityError:  # the same file, uploaded at the same moment by another request (image_upload_once)
        if earlier := _earlier_upload(user, sha256):
            return Upload(earlier, again=True)
        raise
    return Upload(image)


def _earlier_upload(user: User, sha256: str) -> Image | None:
    earlier = Image.objects.filter(user=user, kind=Image.Kind.UPLOADED, sha256=sha256).first()
    if earlier is not None and earlier.deleted_at is not None:
        Image.objects.filter(pk=earlier.pk).update(deleted_at=None)  # uploading it again takes it out of the trash
        earlier.deleted_at = None
    return earlier


def _store_files(media: Image, content: File, thumb: bytes | None) -> None:
    """Write a file and its thumbnail; on failure neither stays behind, not even in part.

    A write that fails half way (the disk filled up) leaves a partial file under the name it was
    given; the names hold the row's own id, so removing them removes nothing of anyone else's."""
    names = []
    try:
        files = [(media.file, f"{media.id}.{media.extension}", content)]
        if thumb is not None:
            files.append((media.thumbnail, f"{media.id}.webp", ContentFile(thumb)))
        for field, filename, each in files:
            names.append((field.storage, field.field.generate_filename(media, filename)))
            field.save(filename, each, save=False)
    except OSError as exc:
        for storage, name in names:
            _remove_quietly(storage, name)
        if is_full(exc):
            raise StorageFull(exc) from exc
        raise


def _create_row(media: Image) -> Image:
    """The row of files just stored; should it fail, the files go too."""
    try:
        with transaction.atomic():
            media.save()
    except Exception:
        media.file.delete(save=False)
        media.thumbnail.delete(save=False)
        raise
    return media


def save_downloaded(media: Image, path: str, thumb: bytes | None) -> Image:
    """Store a downloaded result (a video, a clip, a 3D model) with its thumbnail, then create its row.

    The file is copied in blocks, never read whole into memory. On failure neither file stays
    behind; a full disk is StorageFull (the runner keeps the result for later)."""
    with open(path, "rb") as handle:
        _store_files(media, File(handle), thumb)
    return _create_row(media)


def _remove_quietly(storage: Storage, name: str) -> None:
    try:
        storage.delete(name)
    except OSError:
        log.warning("Could not remove the partly written file %s", name, exc_info=True)


def ensure_thumbnail(image: Image) -> None:
    """Make and store the thumbnail of an image that has none yet (made once, then served)."""
    if image.thumbnail:
        return
    with image.file.open("rb") as handle, PILImage.open(handle) as picture:
        picture.load()
        thumb = make_thumbnail(picture)
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


def free_space() -> int | None:
    """Bytes free where images are stored; None when the storage is not a local filesystem."""
    if not isinstance(default_storage, FileSystemStorage):
        return None
    location = default_storage.location
    while not os.path.exists(location) and os.path.dirname(location) != location:
        location = os.path.dirname(location)  # not made yet: the filesystem it will be made on
    stats = os.statvfs(location)
    return stats.f_bavail * stats.f_frsize


def where_media_go() -> str:
    """The storage's location, for operators' logs (never for members)."""
    return str(getattr(default_storage, "location", "") or type(default_storage).__name__)


def has_room() -> bool:
    """Whether storing an image may succeed (a cheap look at free space before fetching one).

    Only a disk with no free block at all says no: short of that, trying is the only way to know."""
    free = free_space()
    return free is None or free > 0
