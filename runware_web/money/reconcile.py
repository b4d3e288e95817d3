"""Reconciliation: does the ledger account for every cent the Runware balance went down by?

A reading stores the balance (`accountManagement` getDetails) with the id of the newest ledger row
at that moment. Between the starting point and the latest reading, the balance's decrease must
equal the sum of the ledger rows recorded in between; any difference is flagged.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from channels.db import database_sync_to_async
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from runware_web.accounts.models import User
from runware_web.money import reports
from runware_web.money.models import BalanceReading, Charge
from runware_web.upstream.client import shared_client
from runware_web.upstream.errors import UpstreamError, from_sdk
from runware_web.upstream.models import Task

BALANCE_TIMEOUT = 20.0  # seconds
_BALANCE_KEYS = ("amount", "value", "balance", "available", "current", "total", "credits", "usd", "USD")


def parse_balance(value: Any) -> Decimal | None:
    """The balance from getDetails: a number (the docs) or an object holding one (the 1.8 types)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float, str, Decimal)):
        try:
            amount = Decimal(str(value))
        except InvalidOperation:
            return None
        return amount if amount.is_finite() else None
    if isinstance(value, dict):
        for key in _BALANCE_KEYS:
            if key in value and (amount := parse_balance(value[key])) is not None:
                return amount
        for nested in value.values():
            if (amount := parse_balance(nested)) is not None:
                return amount
    return None


async def fetch_balance() -> Decimal:
    """Ask Runware for the account balance. Raises UpstreamError with a message for a person."""
    try:
        client = await shared_client()
        results = await asyncio.wait_for(
            client.account_management({"operation": "getDetails"}), timeout=BALANCE_TIMEOUT
        )
    except asyncio.CancelledError:
        raise
    except TimeoutError:
        raise UpstreamError(code="timeout", message="Runware did not answer the balance request in time. "
                            "Try again in a minute.") from None
    except Exception as exc:
        raise from_sdk(exc) from exc
    for item in results or []:
        if isinstance(item, dict) and (balance := parse_balance(item.get("balance"))) is not None:
            return balance
    raise UpstreamError(code="unknown", message="Runware's account details did not include a balance.")


async def take_reading(*, user: User | None = None, starting_point: bool = False) -> BalanceReading:
    """Read the balance now and store it; the first reading ever becomes the starting point."""
    balance = await fetch_balance()
    return await database_sync_to_async(save_reading)(balance=balance, user=user, starting_point=starting_point)


def save_reading(*, balance: Decimal, user: User | None = None, starting_point: bool = False) -> BalanceReading:
    """Store a reading (staff who asked for it, or None for the page's own reading on open)."""
    taken_by = user if user is not None and user.pk else None
    with transaction.atomic():
        first = not BalanceReading.objects.filter(is_starting_point=True).exists()
        last_charge_id = Charge.objects.aggregate(last=Max("id"))["last"] or 0
        latest = BalanceReading.objects.order_by("-taken_at", "-id").first()
        if (not starting_point and not first and latest is not None and not latest.is_starting_point
                and latest.balance == balance and latest.last_charge_id == last_charge_id):
            # Nothing happened since the last reading: refresh its time instead of adding a row.
            latest.taken_at, latest.taken_by = timezone.now(), taken_by
            latest.save(update_fields=["taken_at", "taken_by"])
            return latest
        return BalanceReading.objects.create(
            balance=balance,
            last_charge_id=last_charge_id,
            tasks_running=Task.objects.active().count(),
            is_starting_point=starting_point or first,
            taken_by=taken_by,
        )


@dataclass
class Reconciliation:
    start: BalanceReading
    latest: BalanceReading
    ledger: Decimal  # sum of the ledger rows recorded between the two readings

    @property
    def decrease(self) -> Decimal:
        return self.start.balance - self.latest.balance

    @property
    def difference(self) -> Decimal:
        """What the balance lost that the ledger does not account for (negative: the reverse)."""
        return self.decrease - self.ledger

    @property
    def matches(self) -> bool:
        return self.difference == 0

    @property
    def same_reading(self) -> bool:
        return self.start.pk == self.latest.pk

    @property
    def maybe_in_flight(self) -> bool:
        """Tasks were running at a reading: a difference may only be a charge not recorded yet."""
        return bool(self.latest.tasks_running or self.start.tasks_running)


def current() -> Reconciliation | None:
    """The comparison between the latest starting point and the latest reading after it."""
    start = BalanceReading.objects.filter(is_starting_point=True).order_by("-taken_at", "-id").first()
    if start is None:
        return None
    latest = BalanceReading.objects.filter(id__gte=start.id).order_by("-taken_at", "-id").first() or start
    ledger = reports.total(Charge.objects.filter(id__gt=start.last_charge_id, id__lte=latest.last_charge_id))
    return Reconciliation(start=start, latest=latest, ledger=ledger)
