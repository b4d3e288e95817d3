"""Formatting money and durations the way the studio shows them."""

from __future__ import annotations

from datetime import timedelta
from decimal import ROUND_UP, Decimal, InvalidOperation
from uuid import UUID

from django import template

register = template.Library()


@register.filter
def usd(value: object) -> str:
    """A cost exactly as Runware reported it: `$0.0123`, never rounded away (at least 2 decimals)."""
    if value is None or value == "":
        return ""
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return ""
    text = f"{amount.normalize():f}"
    whole, _, fraction = text.partition(".")
    return f"${whole}.{fraction.ljust(2, '0')}"


@register.filter
def seconds(value: timedelta | None) -> str:
    """A duration as `4.2 s` (or `1 min 5 s`)."""
    if value is None:
        return ""
    total = value.total_seconds()
    if total < 60:
        return f"{total:.1f} s"
    minutes, rest = divmod(round(total), 60)
    return f"{minutes} min {rest} s"


@register.filter
def usd_approx(value: object) -> str:
    """An estimate, rounded up to a hundredth of a cent: `$0.0104`."""
    if value is None or value == "":
        return ""
    amount = Decimal(str(value)).quantize(Decimal("0.0001"), rounding=ROUND_UP)
    return usd(amount if amount else Decimal("0.0001"))


@register.filter
def as_uuid(value: object) -> str:
    """The value if it is a UUID (an image id), else "" (so no broken link is rendered)."""
    try:
        return str(UUID(str(value)))
    except ValueError:
        return ""
