"""This worker among the others: its lease, the upstream watch, taking over dead workers' tasks.

A task is owned by the worker named in its row, on that worker's lease: the worker renews it (its
row's `last_seen`) every third of settings.RUNWARE_LEASE_SECONDS. One whose lease has run out, or
that stopped, is dead. Every worker looks for dead workers' unfinished tasks every half lease, not
only when it starts, and claims each with a conditional update, so that exactly one adopts it: it
recovers those that were sent (getResponse) and fails, unbilled, those that never were. One lease
per worker rather than per task: renewing it is one write however many tasks the worker runs.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from datetime import timedelta

from channels.db import database_sync_to_async
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from runware_web.lib.outages import CACHE
from runware_web.lib.reconnect import reconnecting
from runware_web.runner import state
from runware_web.runner.deliver import fail
from runware_web.runner.handlers import handler_for
from runware_web.runner.recover import recover
from runware_web.runner.waiting import store_waiting_forever
from runware_web.upstream.client import shared_client
from runware_web.upstream.errors import UpstreamError, from_sdk
from runware_web.upstream.models import Task, Worker
from runware_web.upstream.status import (
    UPSTREAM_KEY_REFUSED,
    UPSTREAM_OK,
    UPSTREAM_STATUS_KEY,
    UPSTREAM_UNREACHABLE,
)

log = logging.getLogger(__name__)
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
    """Register this worker, then keep it alive, watch the upstream, adopt what dead ones left and
    store the results kept while the disk was full."""
    await database_sync_to_async(_register)()
    state.spawn(_keep_lease())
    state.spawn(_watch_upstream())
    state.spawn(_adopt_orphans_forever())
    state.spawn(store_waiting_forever(WORKER_ID))  # results kept while the disk was full


async def recover_orphans() -> int:
    """Adopt tasks whose worker died (or stopped) mid-task and fetch their results from Runware.

    Returns how many tasks were adopted.
    """
    stale_before = timezone.now() - timedelta(seconds=settings.RUNWARE_LEASE_SECONDS)
    claim = database_sync_to_async(reconnecting(Task.objects.adopt_orphans))  # claims all or none: runs again
    adopted = await claim(WORKER_ID, stale_before=stale_before)
    for task in adopted:
        handler = handler_for(task.feature)
        if task.status == Task.Status.QUEUED:
            # Never sent: nothing was billed, so the honest outcome is a failure saying so.
            await fail(task, handler, NEVER_SENT)
            continue
        # What the dead worker charged is not charged again; what it did not store is stored now.
        run = state.Run(task_id=task.pk, charged=await database_sync_to_async(reconnecting(_charged_keys))(task))
        run.future = state.spawn(recover(run, task, handler, lost=LOST))
        state.current().runs[str(task.pk)] = run
    return len(adopted)


def mark_stopped() -> None:
    """This worker stopped cleanly: its tasks are orphans at once, not once its lease runs out."""
    Worker.objects.filter(id=WORKER_ID).update(stopped_at=timezone.now())


def _register() -> None:
    Worker.objects.update_or_create(
        id=WORKER_ID,
        defaults={"hostname": socket.gethostname(), "pid": os.getpid(), "last_seen": timezone.now()},
    )


def _charged_keys(task: Task) -> set[str]:
    return set(task.charges.values_list("result_key", flat=True))


async def _keep_lease() -> None:
    """Renew this worker's lease every third of its length, so that one late renewal does not lose it."""
    renew = database_sync_to_async(lambda: Worker.objects.filter(id=WORKER_ID).update(last_seen=timezone.now()))
    while True:
        await asyncio.sleep(settings.RUNWARE_LEASE_SECONDS / 3)
        try:
            await renew()
        except Exception:  # the database blipped: the next renewal may still come in time
            log.warning("Could not renew this worker's lease; trying again.", exc_info=True)


async def _adopt_orphans_forever() -> None:
    """Look for dead workers' tasks now and every half lease after, for as long as this worker runs."""
    while True:
        try:
            await recover_orphans()
        except Exception:
            log.warning("Looking for dead workers' tasks failed; trying again.", exc_info=True)
        await asyncio.sleep(settings.RUNWARE_LEASE_SECONDS / 2)


async def _watch_upstream() -> None:
    """Keep the upstream session open and tell every page whether Runware can be reached."""
    delay = 1.0
    while True:
        status = await _connect()
        try:
            await cache.aset(UPSTREAM_STATUS_KEY, status, timeout=None)
        except RuntimeError:  # the event loop is closing (its executor is gone)
            return
        except Exception as exc:  # Redis away: pages show no upstream notice meanwhile; the watch goes on
            CACHE.failed(exc)
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
