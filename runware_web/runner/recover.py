"""Recovering a task in flight: ask Runware (getResponse) for what it holds, until it is all there.

Used when a sync task's connection drops, and for every task adopted from a dead worker. Results
already handled (`run.seen`, charged keys for an adopted task) are not handed on twice.
"""

from __future__ import annotations

import asyncio
from typing import Any

from django.conf import settings
from django.utils import timezone

from runware_web.runner import state
from runware_web.runner.deliver import deliver, fail, finish
from runware_web.runner.handlers import Handler
from runware_web.runner.outcomes import forgotten, handled, item_error, unrecovered
from runware_web.runner.publish import publish
from runware_web.upstream.client import shared_client
from runware_web.upstream.errors import UpstreamError, from_sdk
from runware_web.upstream.models import Task

# Failures of getResponse itself worth asking again for; any other ends the task.
_PASSING = frozenset({"connection", "unavailable", "timeout", "serverError", "rateLimit"})


async def recover(
    run: state.Run, task: Task, handler: Handler, *, lost: UpstreamError | None = None, restarted: bool = False
) -> None:
    """Poll getResponse until every result is there, Runware reports an error, or time is up.

    `lost` is how the task ends should Runware not know it, or not in time; by default a message
    saying what happened, what arrived and what it cost (`restarted`: Runware granted a new
    session meanwhile, so it restarted). Either way it ends within RUNWARE_RECOVERY_TIMEOUT, or, for
    an async task (a video takes minutes), within its own time limit (RUNWARE_TIMEOUT) from the
    moment it was sent; its progress reaches the member's tabs as it would have from the first worker."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + _time_left(task)
    delay = 0.5
    while loop.time() < deadline:
        try:
            items = await _ask(task, timeout=max(1.0, deadline - loop.time()))
        except UpstreamError as error:
            if error.code == "notFound":
                error = lost or forgotten(task, restarted=restarted)
            await fail(task, handler, error)
            return
        await deliver(run, task, handler, [item for item in items
                                           if item.get("status") not in {"processing", "error"}])
        progress = [item for item in items if item.get("status") == "processing"]
        if progress:
            await publish(task.user_id, task.feature, task.pk, await handled(handler.on_progress(task, progress[-1])))
        failed = next((item for item in items if item.get("status") == "error"), None)
        if failed is not None:
            await fail(task, handler, item_error(failed.get("error") or {}))
            return
        if len(run.seen) >= task.number_results:
            await finish(task, handler)
            return
        await asyncio.sleep(delay)
        delay = min(delay * 1.5, 5.0)
    await fail(task, handler, lost or unrecovered(task))


def _time_left(task: Task) -> float:
    """How long recovery may poll: a sync task's results are due now; an async one has the rest of
    its time limit (at least the recovery timeout)."""
    if task.delivery != "async":
        return settings.RUNWARE_RECOVERY_TIMEOUT
    sent = task.started_at or task.created_at
    remaining = settings.RUNWARE_TIMEOUT - (timezone.now() - sent).total_seconds()
    return max(settings.RUNWARE_RECOVERY_TIMEOUT, remaining)


async def _ask(task: Task, *, timeout: float) -> list[dict[str, Any]]:
    """What Runware holds for the task; nothing yet on a passing failure. Raises UpstreamError."""
    try:
        client = await shared_client()
        return await asyncio.wait_for(client.get_response({"taskUUID": str(task.pk)}), timeout=timeout)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        error = from_sdk(exc)
        if error.code not in _PASSING:
            raise error from exc
        return []
