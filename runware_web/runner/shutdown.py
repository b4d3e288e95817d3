"""Stopping a worker: wait briefly for its tasks, flush its writes, give up its leases.

What is still running after the grace period is cancelled and stays recoverable: its row names
this worker, which is marked stopped, so another adopts the task at once (workers.py). Daphne has
no ASGI lifespan, so the shutdown is hooked into the Twisted reactor when there is one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import connections

from runware_web.runner import state, workers
from runware_web.upstream.client import close_shared_client

log = logging.getLogger(__name__)

CLOSE_TIMEOUT = 5.0  # seconds each step of shutdown may take


async def shutdown(grace: float | None = None) -> None:
    """Wait up to `grace` seconds for running tasks, then stop this loop's runner."""
    ending = state.peek()
    if ending is not None:
        # The tasks end, and the background work stops, through the loop's state as they ran: one
        # forgotten first would be made anew by their last writes, and its threads (and their
        # database connections) left behind.
        await _stop_tasks(ending, settings.RUNWARE_SHUTDOWN_GRACE if grace is None else grace)
        await _cancel(list(ending.background))
        state.forget()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(ending.quick.close(), timeout=CLOSE_TIMEOUT)
        for writes, thread in ((ending.admissions, ending.admitting), (ending.writes, ending.database)):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writes.close(), timeout=CLOSE_TIMEOUT)
            await asyncio.get_running_loop().run_in_executor(thread, connections.close_all)
            thread.shutdown(wait=False)
    await close_shared_client(timeout=CLOSE_TIMEOUT)
    if ending is not None and ending.started:
        await database_sync_to_async(workers.mark_stopped)()


async def _stop_tasks(ending: state.LoopState, grace: float) -> None:
    pending = [run.future for run in ending.runs.values() if run.future and not run.future.done()]
    if not pending:
        return
    _, still = await asyncio.wait(pending, timeout=grace)
    if still:
        log.warning("Shutting down with %d task(s) still running; the next worker recovers them.", len(still))
        await _cancel(list(still))


async def _cancel(tasks: list[asyncio.Task[Any]]) -> None:
    """Cancel tasks and let them end, for CLOSE_TIMEOUT at most."""
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.wait(tasks, timeout=CLOSE_TIMEOUT)


def start_with_reactor(start_runner: Callable[[], Awaitable[None]]) -> None:
    """Start the runner as soon as the Twisted reactor (Daphne's) runs, when there is one.

    Daphne has no ASGI lifespan, and a runner started only by a first socket or task would leave a
    worker that serves nobody yet (one just restarted, say) without a lease and without looking for
    dead workers' tasks."""
    if "twisted.internet.reactor" not in sys.modules:
        return
    from twisted.internet import reactor  # only once Daphne has installed its reactor

    reactor.callWhenRunning(lambda: asyncio.ensure_future(start_runner()))


def install_hook(stop_runner: Callable[[], Awaitable[None]]) -> None:
    """Run `stop_runner` before the Twisted reactor (Daphne's) shuts down, when there is one."""
    if "twisted.internet.reactor" not in sys.modules:
        return
    from twisted.internet import defer, reactor  # only once Daphne has installed its reactor

    async def stop() -> None:
        await stop_runner()
        # What asyncio.run does on its way out and Twisted does not: cancel the tasks still pending
        # and let them end. A request cut short (Daphne cancels it just before this) leaves tasks
        # behind, as Django's ASGIHandler does not cancel its helpers when it is cancelled itself.
        # Left pending, they were collected at interpreter exit, where CPython 3.11 crashed on them.
        await _cancel([task for task in asyncio.all_tasks() if task is not asyncio.current_task()])

    def before_shutdown() -> defer.Deferred[None]:
        return defer.Deferred.fromFuture(asyncio.ensure_future(stop()))

    reactor.addSystemEventTrigger("before", "shutdown", before_shutdown)
