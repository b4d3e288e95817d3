"""Telling open pages: a task's HTML to every tab of its member, a ledger change to the staff.

Both go through the channel layer's groups, so the tabs may sit on any worker. Saving never
depends on it: a push that fails (no channel layer, Redis away) is dropped, never raised, so the
task goes on and its rows and charges are written as usual. The outage is logged once
(`lib.outages.CHANNEL_LAYER`); tabs catch up from the database when their socket comes back.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from channels.layers import get_channel_layer

from runware_web.lib.groups import STAFF_SPEND_GROUP, user_group
from runware_web.lib.outages import CHANNEL_LAYER
from runware_web.upstream.models import Task


async def publish(user_id: int, feature: str, task_id: Any, html: str) -> None:
    """Send an HTML fragment to every open tab of a member, on any worker."""
    if html:
        await _send(user_group(user_id), {"type": "task.update", "feature": feature, "task_id": str(task_id),
                                          "html": html})


async def notify_staff(items: list[tuple[Task, str, Decimal | None]], charged: Sequence[Any]) -> None:
    """The staff spend page follows the ledger live: one message per member per batch of charges.

    Runs after each group commit that wrote charges (`items`, and whether each carried one)."""
    new_charges = (task.user_id for (task, _, _), new in zip(items, charged, strict=True) if new is True)
    for user_id in dict.fromkeys(new_charges):
        if not await _send(STAFF_SPEND_GROUP, {"type": "spend.changed", "user_id": user_id}):
            return  # the layer is away: the rest of the batch would fail alike


async def _send(group: str, message: dict[str, Any]) -> bool:
    """One group message; False when the channel layer could not take it (never raises)."""
    layer = get_channel_layer()
    if layer is None:
        return False
    try:
        await layer.group_send(group, message)
    except Exception as exc:  # redis-py's ConnectionError or TimeoutError, a full channel, …
        CHANNEL_LAYER.failed(exc)
        return False
    CHANNEL_LAYER.succeeded()
    return True
