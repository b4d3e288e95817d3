"""Telling open pages: a task's HTML to every tab of its member, a ledger change to the staff.

Both go through the channel layer's groups, so the tabs may sit on any worker. Saving never
depends on it: with no channel layer (or Redis away) the runner's work is kept all the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from channels.layers import get_channel_layer

from runware_web.lib.groups import STAFF_SPEND_GROUP, user_group
from runware_web.upstream.models import Task


async def publish(user_id: int, feature: str, task_id: Any, html: str) -> None:
    """Send an HTML fragment to every open tab of a member, on any worker."""
    if not html:
        return
    layer = get_channel_layer()
    if layer is None:
        return
    await layer.group_send(
        user_group(user_id),
        {"type": "task.update", "feature": feature, "task_id": str(task_id), "html": html},
    )


async def notify_staff(items: list[tuple[Task, str, Decimal | None]], charged: Sequence[Any]) -> None:
    """The staff spend page follows the ledger live: one message per member per batch of charges.

    Runs after each group commit that wrote charges (`items`, and whether each carried one)."""
    layer = get_channel_layer()
    if layer is None:
        return
    new_charges = (task.user_id for (task, _, _), new in zip(items, charged, strict=True) if new is True)
    for user_id in dict.fromkeys(new_charges):
        await layer.group_send(STAFF_SPEND_GROUP, {"type": "spend.changed", "user_id": user_id})
