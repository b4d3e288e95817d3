"""Handing a task's outcomes on: money first, then the feature's handler, then the member's tabs.

Every path of a task (sync, async, stream, recovery) ends here. Results are charged in the
ledger before the feature sees them (Runware has billed them, whatever fails next), and a task is
ended in its row before the feature hears of the end, so the HTML it returns shows the final state.
A result the feature cannot store because the disk is full is kept (runner.waiting) and stored
once there is room: billed, it is never dropped. A feature may hear of a live call's result even
earlier, as the SDK hands it over (`announce` → Handler.on_arrival), to pass it on before all this.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from channels.db import database_sync_to_async

from runware_web.lib.reconnect import connection_lost, reconnecting
from runware_web.media.refs import mentions_image_ref, resolve_image_refs
from runware_web.media.store import is_full
from runware_web.money.ledger import record_charges
from runware_web.runner import state, waiting
from runware_web.runner.handlers import Handler, handler_for
from runware_web.runner.outcomes import handled, parse_cost, result_key
from runware_web.runner.publish import notify_staff, publish
from runware_web.upstream.errors import UpstreamError
from runware_web.upstream.models import Task

log = logging.getLogger(__name__)


async def prepare(task: Task) -> tuple[Handler, dict[str, Any]] | None:
    """The task's handler and the parameters to send, its inputs resolved; None: it failed."""
    handler = handler_for(task.feature)
    if not mentions_image_ref(task.params):
        return handler, task.params
    resolve = database_sync_to_async(reconnecting(resolve_image_refs), thread_sensitive=False,
                                     executor=state.current().database)
    try:
        return handler, await resolve(task.user_id, task.params)
    except Exception as exc:
        await fail(task, handler, UpstreamError(code="validation", message=str(exc)))
        return None


async def record(task: Task, outputs: list[tuple[str, Decimal | None]]) -> None:
    """Count outputs (result key, cost) and put their costs in the ledger, in one queued write."""
    charges = [(task, key, cost) for key, cost in outputs]
    await state.current().writes.many(record_charges, charges, after=notify_staff)


async def deliver(run: state.Run, task: Task, handler: Handler, items: list[dict[str, Any]]) -> None:
    """Charge the outputs not seen before, then hand each to the feature and publish its HTML.

    For a task adopted from a dead worker, `run.charged` holds what that worker put in the ledger:
    those outputs are not charged again, and are handed to the feature only if it has not stored
    them (the worker may have died between the charge and the file)."""
    fresh: list[tuple[str, dict[str, Any]]] = []
    for item in items:
        key = result_key(item, fallback=f"#{len(run.seen)}")
        if key in run.seen:
            continue
        run.seen.add(key)
        if key in run.charged and await handler.is_stored(task, item):
            continue
        fresh.append((key, item))
    # Runware has billed these outputs: the charges are recorded before anything else can fail.
    await record(task, [(key, parse_cost(item.get("cost"))) for key, item in fresh if key not in run.charged])
    for key, item in fresh:
        try:
            html = await _store(task, handler, item)
        except Exception as exc:
            if is_full(exc):  # no room for it: kept, and stored once there is room (runner.waiting)
                html = await waiting.keep(task, handler, key, item, exc)
            else:
                log.exception("Saving a result of task %s failed", task.pk)
                html = ""
        await publish(task.user_id, task.feature, task.pk, html)


def announce(task: Task, handler: Handler, item: dict[str, Any]) -> None:
    """Tell the feature of an output the moment the SDK hands it over, before it is charged and
    stored in arrival order (deliver): it may hand it on at once. Never raises."""
    if item.get("status") == "error":
        return
    try:
        handler.on_arrival(task, item)
    except Exception:
        log.exception("Handing on a result of task %s as it arrived failed", task.pk)


async def _store(task: Task, handler: Handler, item: dict[str, Any]) -> str:
    """The feature stores a result: once more should the database connection drop under it
    (lib.reconnect), unless the first try was stored after all (the drop came as it committed)."""
    try:
        return await handler.on_result(task, item)
    except Exception as exc:
        if not connection_lost(exc):
            raise
    if await handler.is_stored(task, item):
        return ""
    log.warning("The database connection dropped while a result of task %s was stored; storing it again.", task.pk)
    return await handler.on_result(task, item)


async def finish(task: Task, handler: Handler) -> None:
    await state.write(end_many, (task, Task.Status.DONE, None))
    await publish(task.user_id, task.feature, task.pk, await handled(handler.on_finished(task)))


async def fail(task: Task, handler: Handler, error: UpstreamError) -> None:
    log.info("Task %s (%s) failed: %s [%s]", task.pk, task.task_type, error.code, error.detail)
    await state.write(end_many, (task, Task.Status.FAILED, error))
    await publish(task.user_id, task.feature, task.pk, await handled(handler.on_failed(task, error)))


def end_many(items: list[tuple[Task, str, UpstreamError | None]]) -> list[None]:
    """End tasks (a group commit's batch): those ending alike in one statement, each failure alone.

    A cancelled task stays cancelled (see TaskQuerySet.end)."""
    alike: dict[str, list[Task]] = {}
    for task, status, error in items:
        if error is None:
            alike.setdefault(status, []).append(task)
        else:
            Task.objects.end([task], status, error)
    for status, tasks in alike.items():
        Task.objects.end(tasks, status)
    return [None] * len(items)
