"""The gallery's own template tags; money, durations and task kinds use the portal's builtin filters."""

from __future__ import annotations

import functools
from datetime import datetime, timedelta

from django import template
from django.conf import settings
from django.contrib.staticfiles import finders
from django.templatetags.static import static

register = template.Library()


@register.filter
def purge_date(deleted_at: datetime | None) -> datetime | None:
    """When an image put in the trash at `deleted_at` is deleted for good."""
    if deleted_at is None:
        return None
    return deleted_at + timedelta(days=settings.TRASH_RETENTION_DAYS)


#: What one item of each media type is called in a sentence ("This clip is in the trash").
MEDIA_NOUNS = {"image": "image", "video": "video", "audio": "clip", "3d": "3D model"}


@register.filter
def media_noun(media_type: str) -> str:
    """"image", "video", "clip" or "3D model": a gallery item named for what it is."""
    return MEDIA_NOUNS.get(media_type, "image")


MODEL_VIEWER = "vendor/model-viewer/model-viewer.min.js"


@register.simple_tag
def model_viewer_script() -> str:
    """The URL of the vendored <model-viewer> module, or "" when it is not installed (a 3D model
    then shows its thumbnail and a download link)."""
    return _vendored(MODEL_VIEWER)


@functools.cache
def _vendored(path: str) -> str:
    return static(path) if finders.find(path) else ""
