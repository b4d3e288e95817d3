"""This worker among the others: its row and heartbeat, the upstream watch, adopting orphaned tasks.

A task is owned by the worker named in its row. Each worker beats every HEARTBEAT_SECONDS; one
silent for STALE_WORKER_SECONDS (or stopped) is dead, and a live worker adopts its unfinished tasks:
it recovers those that were sent (getResponse) and fails, unbilled, those that never were.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from datetime import timedelta

from channels.db import database_sync_to_async
from django.core.cache import cache
from django.utils import timezone

from runware_web.runner import state
from runware_web.runner.deliver import fail
from runware_web.runner.handlers import handler_for
from runware_web.runner.recover import recover
from runware_web.upstream.client import shared_client
from runware_web.upstream.errors import UpstreamError, from_sdk
from runware_web.upstream.models import Task, Worker
from runware_web.upstream.status import (
    UPSTREAM_KEY_REFUSED,
    UPSTREAM_OK,
    UPSTREAM_STATUS_KEY,
    UPSTREAM_UNREACHABLE,
)

HEARTBEAT_SECONDS = 15.0
STALE_WORKER_SECONDS = 60.0
WORKER_ID = f"{socket.gethostname()[:30]}-{os.getpid()}-{uuid.uuid4().hex[:8]}"

NEVER_SENT = UpstreamError(
    code="aborted",
    message="The portal restarted before this task was sent to Runware. Nothing was billed; start it again.",
)
LOST = UpstreamError(
    code="connection",
    message="The portal restarted while this task was running, and its results could not be fetched "
    "from Runware. It may have been billed: check History before retrying.",
)


async def start() -> None:
    """Register this worker, then keep it alive, watch the upstream and adopt what dead ones left."""
    await database_sync_to_async(_register)()
    state.spawn(_heartbeat())
    state.spawn(_watch_upstream())
    state.spawn(recover_orphans())


async def recover_orphans() -> int:
    """Adopt tasks whose worker died (or stopped) mid-task and fetch their results from Runware.

    Returns how many tasks were adopted.
    """
    stale_before = timezone.now() - timedelta(seconds=STALE_WORKER_SECONDS)
    adopted = await database_sync_to_async(Task.objects.adopt_orphans)(WORKER_ID, stale_before=stale_before)
    for task in adopted:
        handler = handler_for(task.feature)
        if task.status == Task.Status.QUEUED:
            # Never sent: nothing was billed, so the honest outcome is a failure saying so.
            await fail(task, handler, NEVER_SENT)
            continue
        run = state.Run(task_id=task.pk)
        run.seen.update(await database_sync_to_async(_charged_keys)(task))
        run.future = state.spawn(recover(run, task, handler, lost=LOST))
        state.current().runs[str(task.pk)] = run
    return len(adopted)


def mark_stopped() -> None:
    """This worker stopped cleanly: its tasks are orphans at once, not after STALE_WORKER_SECONDS."""
    Worker.objects.filter(id=WORKER_ID).update(stopped_at=timezone.now())


def _register() -> None:
    Worker.objects.update_or_create(
        id=WORKER_ID,
        defaults={"hostname": socket.gethostname(), "pid": os.getpid(), "last_seen": timezone.now()},
    )


def _charged_keys(task: Task) -> set[str | int]:
    return set(task.charges.values_list("result_key", flat=True))


async def _heartbeat() -> None:
    beat = database_sync_to_async(lambda: Worker.objects.filter(id=WORKER_ID).update(last_seen=timezone.now()))
    while True:
        await asyncio.sleep(HEARTBEAT_SECONDS)
        await beat()


async def _watch_upstream() -> None:
    """Keep the upstream session open and tell every page whether Runware can be reached."""
    delay = 1.0
    while True:
        status = await _connect()
        try:
            await cache.aset(UPSTREAM_STATUS_KEY, status, timeout=None)
        except RuntimeError:  # the event loop is closing (its executor is gone)
            return
        if status == UPSTREAM_OK:
            delay = 1.0
            await asyncio.sleep(30)
        else:
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)


async def _connect() -> str:
    """Open the upstream session unless it is open; the upstream status that follows."""
    try:
        client = await shared_client()
        if not client.is_connected:
            await asyncio.wait_for(client.connect(), timeout=15)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        return UPSTREAM_KEY_REFUSED if from_sdk(exc).code == "auth" else UPSTREAM_UNREACHABLE
    return UPSTREAM_OK
