""""Reuse settings" on the media pages (Video, Audio, 3D): the member's own item `?reuse=` names,
and the plain values of the task parameters it was made with, for the page's form to start from."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest

from runware_web.media.access import get_own_image
from runware_web.media.models import Image


def reused_item(request: HttpRequest, media_type: str, noun: str) -> tuple[Image | None, str]:
    """The item `?reuse=` names if it is one of the member's own of this media type; else None and,
    when one was named, a note saying it is not available (never whose it is)."""
    item_id = request.GET.get("reuse")
    if not item_id:
        return None, ""
    try:
        item = get_own_image(request.user, item_id, include_trash=True)
    except Http404:
        item = None
    if item is None or item.media_type != media_type:
        return None, f"The {noun} whose settings you wanted to reuse is not available."
    return item, ""


def stored_values(params: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """The named parameters that are plain strings or whole numbers (a form field's value)."""
    return {
        name: params[name]
        for name in names
        if isinstance(params.get(name), (str, int)) and not isinstance(params.get(name), bool)
    }
