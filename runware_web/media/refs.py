"""How a task's parameters name the portal's own images, and how the runner turns them into bytes.

Task rows keep a short reference (`portal-image:<uuid>`) instead of megabytes of base64, so that
"reuse settings" finds the image too; just before the task is sent the runner swaps every
reference for the image's data URI (`resolve_image_refs`), reading only the member's own images.
"""

from __future__ import annotations

import base64
from typing import Any

from django.core.exceptions import ValidationError

from runware_web.media.models import Image

IMAGE_REF_PREFIX = "portal-image:"


def image_ref(image: Image) -> str:
    """How a task's stored parameters name one of the portal's images (see `resolve_image_refs`).

    Task rows keep this short reference instead of megabytes of base64; the runner swaps in the
    image's bytes as a data URI just before sending, so "reuse settings" finds the image too.
    """
    return f"{IMAGE_REF_PREFIX}{image.pk}"


def referenced_image(user_id: int, value: Any) -> Image | None:
    """The member's image named by a reference string, or None when `value` is not one."""
    if not isinstance(value, str) or not value.startswith(IMAGE_REF_PREFIX):
        return None
    try:
        return Image.objects.get(pk=value.removeprefix(IMAGE_REF_PREFIX), user_id=user_id)
    except (Image.DoesNotExist, ValueError, ValidationError):
        raise MissingInputImage(
            "An input image of this task is no longer in your gallery. Pick another image and try again."
        ) from None


class MissingInputImage(Exception):
    pass


def mentions_image_ref(value: Any) -> bool:
    """Whether task parameters name any of the portal's images (no database needed to tell)."""
    if isinstance(value, dict):
        return any(mentions_image_ref(item) for item in value.values())
    if isinstance(value, list):
        return any(mentions_image_ref(item) for item in value)
    return isinstance(value, str) and value.startswith(IMAGE_REF_PREFIX)


def resolve_image_refs(user_id: int, value: Any) -> Any:
    """A copy of task parameters with every image reference replaced by the image's data URI."""
    if isinstance(value, dict):
        return {key: resolve_image_refs(user_id, item) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve_image_refs(user_id, item) for item in value]
    image = referenced_image(user_id, value)
    return data_uri(image) if image is not None else value


def data_uri(image: Image) -> str:
    """The image as a data URI, to send to Runware as an input (seed image, mask, …)."""
    with image.file.open("rb") as handle:
        encoded = base64.b64encode(handle.read()).decode()
    return f"data:{image.content_type};base64,{encoded}"
