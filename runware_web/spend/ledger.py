"""Writing the ledger. Every cost Runware reports becomes exactly one Charge row.

The runner calls this, then tells the staff spend page (group STAFF_SPEND_GROUP, "spend.changed").
"""

from __future__ import annotations

from decimal import Decimal

from django.db import IntegrityError, transaction

from runware_web.spend.models import Charge
from runware_web.upstream.models import Task


def record_charge(*, task: Task, result_key: str, amount: Decimal) -> bool:
    """Record what Runware billed for one output of a task. Returns False if it was already recorded."""
    try:
        with transaction.atomic():
            Charge.objects.create(
                task=task,
                user_id=task.user_id,
                team_id=task.team_id,
                task_type=task.task_type,
                model=task.model,
                result_key=result_key[:100],
                amount=amount,
            )
    except IntegrityError:
        return False
    return True
