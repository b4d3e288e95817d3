"""Helpers for the simulator tests: task builders and test images."""

from __future__ import annotations

import base64
import io
import uuid
from typing import Any

import pytest
from PIL import Image
from runware import Runware

TRANSPORTS = pytest.mark.parametrize("transport", ["websocket", "rest"])


def image_task(prompt: str = "a lighthouse at dusk", **overrides: Any) -> dict[str, Any]:
    task: dict[str, Any] = {
        "taskType": "imageInference",
        "model": "runware:101@1",
        "positivePrompt": prompt,
        "width": 256,
        "height": 256,
        "steps": 20,
        "deliveryMethod": "sync",
    }
    task.update(overrides)
    return task


def solid(colour: tuple[int, int, int], size: tuple[int, int] = (256, 256)) -> Image.Image:
    return Image.new("RGB", size, colour)


def square_on_white(size: int = 256, colour: tuple[int, int, int] = (200, 20, 20)) -> Image.Image:
    """A coloured square on a white background: a subject with an obvious border colour."""
    image = Image.new("RGB", (size, size), (255, 255, 255))
    image.paste(Image.new("RGB", (size // 2, size // 2), colour), (size // 4, size // 4))
    return image


def data_uri(image: Image.Image, fmt: str = "PNG") -> str:
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return f"data:image/{fmt.lower()};base64,{base64.b64encode(buffer.getvalue()).decode()}"


def open_image(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def new_uuid() -> str:
    return str(uuid.uuid4())


async def upload(client: Runware, image: Image.Image) -> str:
    items = await client.image_upload({"image": data_uri(image)})
    return str(items[0]["imageUUID"])
