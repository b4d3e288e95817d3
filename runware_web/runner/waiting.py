"""Results waiting for room: kept when the disk where images go is full, stored once there is room.

When a feature's handler cannot store a result because the disk is full (media.store.StorageFull),
`deliver` keeps it here (media.pending: a row with the item as Runware sent it, its URL or bytes).
Its charge is already in the ledger and is never recorded again. Every worker, from the moment it
starts, tries the results that are due every settings.RUNWARE_STORE_RETRY_SECONDS: it claims each
first (a conditional update, so that two workers never store the same one), asks the handler to
store it as it would have at first (the image is fetched again from its URL), drops the row once
the handler says it is stored, and sends the task's card to the member's open tabs. While the disk
stays full one result per round is enough to know it: the round stops at the first that finds no room.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any, TypeVar

from channels.db import database_sync_to_async
from django.conf import settings
from django.utils import timezone

from runware_web.lib.reconnect import reconnecting
from runware_web.media import pending
from runware_web.media.models import PendingResult
from runware_web.media.store import has_room, is_full
from runware_web.runner import state
from runware_web.runner.handlers import Handler, handler_for
from runware_web.runner.outcomes import handled
from runware_web.runner.publish import publish
from runware_web.upstream.models import Task

log = logging.getLogger(__name__)
T = TypeVar("T")


class NotStored(Exception):
    """The handler returned, yet the result is not in storage (it could not fetch the image)."""


async def keep(task: Task, handler: Handler, key: str, item: dict[str, Any], error: BaseException) -> str:
    """A charged result found no room in storage: keep it to store later; the HTML saying so."""
    try:
        await _db(state.current().database, pending.keep, task.pk, key, item, f"{type(error).__name__}: {error}")
    except Exception:
        log.exception("Result %s of task %s found no room in storage and could not be kept either", key, task.pk)
        return ""
    log.error("Media storage is full (%s): result %s of task %s is kept in the database and will be "
              "stored as soon as there is room (it is charged once). Free some space there.", error, key, task.pk)
    return await handled(handler.on_waiting(task, item))


async def store_waiting_forever(worker_id: str) -> None:
    """Try the results waiting for room now and every RUNWARE_STORE_RETRY_SECONDS, for as long as
    this worker runs, on the database thread of this loop's runner."""
    database = state.current().database
    while True:
        try:
            await store_waiting(worker_id, database)
        except Exception:
            if getattr(database, "_shutdown", False):
                return  # the runner is stopping: its database thread is gone, the next worker goes on
            log.warning("Storing the results waiting for room failed; trying again.", exc_info=True)
        await asyncio.sleep(settings.RUNWARE_STORE_RETRY_SECONDS)


async def store_waiting(worker_id: str, database: Executor) -> int:
    """One round over the results that are due; how many were stored."""
    due = await _db(database, pending.due)
    if not due or not has_room():
        return 0
    stored = 0
    for pk in due:
        row = await _db(database, pending.claim, pk, worker_id)
        if row is None:
            continue  # another worker has it
        outcome = await _store(row, database)
        if outcome == "full":
            break
        stored += outcome == "stored"
    return stored


async def _store(row: PendingResult, database: Executor) -> str:
    """Store one claimed result: "stored", "full" (no room yet) or "failed" (tried again later)."""
    task, item = row.task, row.item
    handler = handler_for(task.feature)
    html = ""
    try:
        if not await handler.is_stored(task, item):  # a worker that adopted the task may have stored it
            html = await handler.on_result(task, item)
            if not await handler.is_stored(task, item):
                raise NotStored("the result could not be fetched again from Runware")
    except Exception as exc:
        full = is_full(exc)
        retry_in = settings.RUNWARE_STORE_RETRY_SECONDS if full else _backoff(row.attempts)
        await _db(database, pending.release, row, f"{type(exc).__name__}: {exc}", retry_in=retry_in)
        if not full:
            log.warning("Result %s of task %s, kept for want of room, was not stored (%s); trying again "
                        "in %.0f s.", row.result_key, task.pk, exc, retry_in)
        return "full" if full else "failed"
    await _db(database, pending.stored, row)
    waited = (timezone.now() - row.created_at).total_seconds()
    log.info("Result %s of task %s is stored, %.1f s after the disk was found full.", row.result_key, task.pk,
             waited)
    await _tell_member(task, handler, html, database)
    return "stored"


async def _tell_member(task: Task, handler: Handler, html: str, database: Executor) -> None:
    """The member's open tabs: the task's whole card once it has ended (its waiting count is
    right only now the row is gone), else what the handler returned for the result.

    Another worker may store another of the task's results at the same time, and its card (counted
    after both rows went) reach the tabs before this one (counted between): so the count is read
    again once the card is sent, and the card sent again while it has changed. Results only leave
    the count, so this ends; and the last card sent counts what the last of them left."""
    fresh = await _db(database, Task.objects.get, pk=task.pk)
    if fresh.is_active:
        await publish(task.user_id, task.feature, task.pk, html)
        return
    counted = await _db(database, pending.waiting_of, task.pk)
    while True:
        await publish(task.user_id, task.feature, task.pk, await handled(handler.on_finished(fresh)) or html)
        now = await _db(database, pending.waiting_of, task.pk)
        if now == counted:
            return
        counted = now


def _backoff(attempts: int) -> float:
    """Seconds before trying again a result that failed for another reason than room: doubling."""
    return min(settings.RUNWARE_STORE_RETRY_SECONDS * 2 ** min(attempts, 20), pending.LONGEST_WAIT)


async def _db(database: Executor, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Database work on the runner's own database thread (requests keep theirs), once more on a new
    connection should PostgreSQL drop it (every call here may run twice: lib.reconnect)."""
    call = database_sync_to_async(reconnecting(function), thread_sensitive=False, executor=database)
    return await call(*args, **kwargs)
