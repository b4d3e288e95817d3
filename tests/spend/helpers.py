"""Ledger rows for page tests, written directly (no upstream call needed to test a report)."""

from __future__ import annotations

import itertools
from datetime import datetime
from decimal import Decimal

from django.utils import timezone

from runware_web.money.models import Charge
from runware_web.upstream.models import Task

_keys = itertools.count()


def add_charge(user, amount: str | Decimal, *, task_type: str = "imageInference", model: str = "runware:101@1",
               at: datetime | None = None, task: Task | None = None) -> Charge:
    """One finished task of `user` with one charge of `amount`, as the runner would have left it."""
    at = at or timezone.now()
    amount = Decimal(amount)
    if task is None:
        task = Task.objects.create(
            user=user, team_id=user.team_id, feature="studio", task_type=task_type, model=model,
            params={"model": model}, status=Task.Status.DONE, results_received=1, cost=amount,
            created_at=at, started_at=at, finished_at=at,
        )
    return Charge.objects.create(
        task=task, user=user, team_id=user.team_id, task_type=task_type, model=model,
        result_key=f"#{next(_keys)}", amount=amount, created_at=at,
    )
