"""Tell the staff spend page that a charge was recorded (after the transaction commits)."""

from __future__ import annotations

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from runware_web.upstream.groups import STAFF_SPEND_GROUP
from runware_web.upstream.models import Task


def charge_recorded(task: Task) -> None:
    def send() -> None:
        layer = get_channel_layer()
        if layer is not None:
            async_to_sync(layer.group_send)(STAFF_SPEND_GROUP, {"type": "spend.changed", "user_id": task.user_id})

    transaction.on_commit(send)
