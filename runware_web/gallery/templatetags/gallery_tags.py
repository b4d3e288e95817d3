"""Small formatting filters for the gallery and history pages."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django import template
from django.conf import settings

from runware_web.gallery.forms import task_type_label

register = template.Library()

_CENT = Decimal("0.01")


@register.filter
def usd(value: Any) -> str:
    """A cost exactly as Runware reported it (no rounding), with at least two decimals: $0.0041."""
    if value is None or value == "":
        return "—"
    try:
        amount = Decimal(value).normalize()
    except (InvalidOperation, TypeError, ValueError):
        return "—"
    if amount.as_tuple().exponent > -2:
        amount = amount.quantize(_CENT)
    return f"${amount:f}"


@register.filter
def duration(value: timedelta | None) -> str:
    """3.2 s, 1 min 05 s, 2 h 03 min."""
    if value is None:
        return "—"
    seconds = value.total_seconds()
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


@register.filter
def purge_date(deleted_at: datetime | None) -> datetime | None:
    """When an image put in the trash at `deleted_at` is deleted for good."""
    if deleted_at is None:
        return None
    return deleted_at + timedelta(days=settings.TRASH_RETENTION_DAYS)


@register.filter
def task_kind(task_type: str) -> str:
    return task_type_label(task_type)
