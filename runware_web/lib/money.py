"""Money as the portal writes it: exact `Decimal`s as Runware reports them, one way to show them."""

from __future__ import annotations

from decimal import ROUND_UP, Decimal, InvalidOperation
from typing import Any

# Every amount column: Runware reports costs to ten decimal places at most.
COST = {"max_digits": 18, "decimal_places": 10}
ZERO = Decimal(0)
NOTHING = "—"


def as_decimal(value: Any) -> Decimal | None:
    """A Decimal from what a template or a JSON payload holds (None for nothing or garbage)."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        return None
    return amount if amount.is_finite() else None


def plain_amount(amount: Decimal, *, grouping: bool = True) -> str:
    """Every digit the amount has (no trailing zeros) but at least cents: 0.00412345, 1,012.50."""
    text = format(amount.normalize(), "f") if amount else "0"
    whole, _, fraction = text.partition(".")
    sign, digits = ("-", whole[1:]) if whole.startswith("-") else ("", whole)
    digits = f"{int(digits):,}" if grouping else digits
    return f"{sign}{digits}.{fraction.ljust(2, '0')}"


def usd(value: Any) -> str:
    """$0.00412345, $1,012.50, −$0.50: exactly what Runware reported, at least cents; "—" for nothing."""
    amount = as_decimal(value)
    if amount is None:
        return NOTHING
    text = plain_amount(amount)
    return f"−${text[1:]}" if text.startswith("-") else f"${text}"


def usd_estimate(value: Any) -> str:
    """An estimate, rounded up to a hundredth of a cent and never shown as free: $0.0104."""
    amount = as_decimal(value)
    if amount is None:
        return NOTHING
    rounded = amount.quantize(Decimal("0.0001"), rounding=ROUND_UP)
    return usd(rounded if rounded else Decimal("0.0001"))
