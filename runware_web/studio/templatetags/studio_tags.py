"""The studio's own template filter (money and durations use the portal's builtin filters)."""

from __future__ import annotations

from uuid import UUID

from django import template

register = template.Library()


@register.filter
def as_uuid(value: object) -> str:
    """The value if it is a UUID (an image id), else "" (so no broken link is rendered)."""
    try:
        return str(UUID(str(value)))
    except ValueError:
        return ""
