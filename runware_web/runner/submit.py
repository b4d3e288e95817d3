"""Submitting a task: admit it and write its row, let the feature record its own, then start it.

The admission and the row go through the loop's group commit (admit.py): the Task row exists
before anything is sent, so that whatever happens next, a worker can recover or close it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from channels.db import database_sync_to_async

from runware_web.accounts.models import User
from runware_web.money.prices import uses_catalogue_price, uses_model_defaults
from runware_web.runner import state
from runware_web.runner.deliver import end_many
from runware_web.runner.execute import start
from runware_web.runner.quick import Quick
from runware_web.runner.workers import WORKER_ID
from runware_web.upstream.content import model_pricing
from runware_web.upstream.errors import UpstreamError
from runware_web.upstream.models import Task
from runware_web.upstream.models_catalogue import ModelDefaults
from runware_web.upstream.models_catalogue import model_defaults as lookup_model_defaults

NOT_STARTED = UpstreamError(
    code="aborted", message="The portal could not start this task. Nothing was billed; start it again."
)


async def submit(
    *,
    user: User,
    feature: str,
    task_type: str,
    params: dict[str, Any],
    number_results: int = 1,
    estimated_cost: Decimal | None = None,
    delivery: str = "sync",
    before_start: Callable[[Task], Awaitable[Any]] | None = None,
    record_with: Callable[[Task], None] | None = None,
    read_ahead: Callable[[], None] | None = None,
    quick: Quick | None = None,
    model_defaults: ModelDefaults | None = None,
) -> Task:
    """Admit, record and start a task (see Runner.submit). Raises `Refused`.

    Without an estimate, admission prices the task with its model's defaults and its catalogue
    price, looked up here (cached; an upstream call at most each) so that the admission's
    transaction waits on nothing.

    `quick`: the feature's checks and rows as SQL, for the one-message admission (quick.py), which
    is tried first; `record_with` and `read_ahead` are still needed, for the full one.
    """
    defaults, catalogue = model_defaults, None
    if estimated_cost is None and defaults is None and uses_model_defaults(task_type):
        defaults = await lookup_model_defaults(str(params.get("model") or ""))
    if estimated_cost is None and uses_catalogue_price(task_type):
        catalogue = await model_pricing(str(params.get("model") or ""))
    request = {
        "worker": WORKER_ID,
        "user": user,
        "feature": feature,
        "task_type": task_type,
        "params": params,
        "number_results": number_results,
        "estimated_cost": estimated_cost,
        "model_defaults": defaults,
        "catalogue_price": catalogue,
        "delivery": delivery,
        "record_with": record_with,
        "read_ahead": read_ahead,
        "quick": quick,
    }
    runner = state.current()
    task = await runner.quick.admit(request) if runner.quick.takes(request) else None
    if task is None:
        task = await runner.admissions(runner.admit, request)
    if before_start is not None:
        try:
            await before_start(task)
        except BaseException:
            await asyncio.shield(state.write(end_many, (task, Task.Status.FAILED, NOT_STARTED)))
            raise
    start(task)
    return task


async def wait(task_id: Any) -> None:
    """Wait until a task started in this process has ended (for tests and benchmarks)."""
    run = state.current().runs.get(str(task_id))
    if run and run.future:
        await asyncio.shield(run.future)


async def cancel(*, user: User, task_id: Any) -> Task | None:
    """Mark a member's active task cancelled (see Runner.cancel)."""
    return await database_sync_to_async(Task.objects.cancel_active)(user=user, task_id=task_id)
