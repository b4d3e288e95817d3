"""The gallery's own template filter; money, durations and task kinds use the portal's builtin filters."""

from __future__ import annotations

from datetime import datetime, timedelta

from django import template
from django.conf import settings

register = template.Library()


@register.filter
def purge_date(deleted_at: datetime | None) -> datetime | None:
    """When an image put in the trash at `deleted_at` is deleted for good."""
    if deleted_at is None:
        return None
    return deleted_at + timedelta(days=settings.TRASH_RETENTION_DAYS)
