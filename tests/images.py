"""Small image-making helpers shared by tests."""

from __future__ import annotations

import io
import zipfile
from typing import Any

from PIL import Image


def encoded(picture: Image.Image, image_format: str, **options: Any) -> bytes:
    """`picture` as a file of `image_format`, saved with Pillow's `options` (exif=, icc_profile=, …)."""
    buffer = io.BytesIO()
    picture.save(buffer, format=image_format, **options)
    return buffer.getvalue()


def decoded(data: bytes) -> Image.Image:
    """The picture in a file's bytes, loaded (its `format`, `info` and `getexif()` are the file's)."""
    picture = Image.open(io.BytesIO(data))
    picture.load()
    return picture


def png_bytes(width: int = 64, height: int = 64, colour: tuple[int, int, int] = (200, 80, 40)) -> bytes:
    return encoded(Image.new("RGB", (width, height), colour), "PNG")


def jpeg_bytes(width: int = 64, height: int = 48, colour: tuple[int, int, int] = (200, 30, 30),
               **options: Any) -> bytes:
    return encoded(Image.new("RGB", (width, height), colour), "JPEG", **options)


def mpo_bytes(first: Image.Image, second: Image.Image, *more: Image.Image, **options: Any) -> bytes:
    """A JPEG holding more pictures after `first` (CIPA multi-picture format, which Pillow calls
    "MPO"), as phones write a depth or gain map and 3D cameras a second view. `options` are for
    the first picture (exif=, quality=, …)."""
    data = encoded(first, "MPO", save_all=True, append_images=[second, *more], **options)
    opened = decoded(data)
    assert (opened.format, opened.n_frames) == ("MPO", 2 + len(more)), "Pillow did not write an MPO"
    return data


def with_trailing_zip(picture: bytes) -> bytes:
    """An image file followed by a zip archive holding an HTML page (a polyglot: both at once)."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("payload.html", "<script>alert(1)</script>")
    return picture + archive.getvalue()
