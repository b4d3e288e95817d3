"""The gallery's thumbnails: a small WebP of a decoded picture.

Made where the picture is already decoded: an upload's check (media.uploads) makes its thumbnail
from the pixels it decodes anyway, so storing the upload (media.store.save_image) decodes nothing
a second time; a result or an image without one is decoded by the store.
"""

from __future__ import annotations

import io

from PIL import Image as PILImage

THUMBNAIL_SIZE = 384


def make_thumbnail(picture: PILImage.Image) -> bytes:
    """The WebP thumbnail of a decoded picture, which it shrinks in place (callers are done with it):
    `convert` to the mode it already has would copy the full-size pixels, one more copy of a large
    upload in memory (benchmarks/upload_memory.py)."""
    wanted = "RGBA" if picture.mode in {"RGBA", "LA", "P"} else "RGB"
    if picture.mode != wanted:
        picture = picture.convert(wanted)  # before shrinking: a palette image is resized in colour
    picture.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE))
    out = io.BytesIO()
    picture.save(out, format="WEBP", quality=80)
    return out.getvalue()
