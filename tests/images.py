"""Small image-making helpers shared by tests."""

from __future__ import annotations

import io

from PIL import Image


def png_bytes(width: int = 64, height: int = 64, colour: tuple[int, int, int] = (200, 80, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, format="PNG")
    return buffer.getvalue()
