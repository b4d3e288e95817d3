"""Running a task: sync and async tasks through the SDK's `run`, and the pump that hands on results.

`start` runs an admitted task as an independent asyncio task of the process (never a consumer's
child, so closing the tab cancels nothing). A sync task whose connection drops is recovered
through getResponse (recover.py); a streamed one runs in stream.py.

A task goes out on the upstream session in place (the client connects first, so that a task
started while Runware is away fails at once rather than waiting for it). Should Runware grant a
new session while a sync task waits (it restarted: it forgot the task, and the SDK would wait
for the rest until RUNWARE_TIMEOUT), the task is recovered at once: it ends within
RUNWARE_RECOVERY_TIMEOUT of the reconnect, keeping and charging what had arrived.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from django.conf import settings
from runware import RunOptions

from runware_web.runner import state
from runware_web.runner.deliver import announce, deliver, fail, finish, prepare
from runware_web.runner.handlers import Handler
from runware_web.runner.outcomes import forgotten, handled
from runware_web.runner.publish import publish
from runware_web.runner.recover import recover
from runware_web.runner.stream import execute_stream
from runware_web.upstream.client import connected_client, upstream_session
from runware_web.upstream.errors import from_sdk
from runware_web.upstream.models import Task

#: How long the book-keeping of results waits before it starts, for what they set off (see _pump).
GRACE_SECONDS = 0.005
IO_TURN_SECONDS = 1e-6  # a timer's: its callback runs after the I/O of the turn it falls due in
_Queue = asyncio.Queue[tuple[str, dict[str, Any]] | None]
_NEW_SESSION = ("session", {})  # queued when Runware grants a new session: the task's was forgotten


def start(task: Task) -> None:
    """Run a task just admitted (and claimed by this worker) in the background of this process."""
    run = state.Run(task_id=task.pk)
    runs = state.current().runs
    execute = execute_stream if task.delivery == "stream" else execute_run
    # Callers that start tasks from a request run `submit` in a context of their own (see
    # `detached`), so the task does not hold on to the request's database thread.
    run.future = asyncio.get_running_loop().create_task(execute(run, task), name=f"runware-task-{task.pk}")
    runs[str(task.pk)] = run
    run.future.add_done_callback(lambda _: runs.pop(str(task.pk), None))


async def execute_run(run: state.Run, task: Task) -> None:
    """A sync or async task: send it, hand on each result as it comes, then end it."""
    prepared = await prepare(task)
    if prepared is None:
        return
    handler, params = prepared
    queue: _Queue = asyncio.Queue()
    payload = {
        **params,
        "taskType": task.task_type,
        "taskUUID": str(task.pk),
        "includeCost": True,
        "deliveryMethod": task.delivery,
    }

    def arrived(item: dict[str, Any]) -> None:
        announce(task, handler, item)  # the feature may hand it on now; charged and stored in turn below
        queue.put_nowait(("result", item))

    options = RunOptions(
        on_result=arrived,
        on_progress=lambda item: queue.put_nowait(("progress", item)),
        timeout=int(settings.RUNWARE_TIMEOUT * 1000),
    )
    call: asyncio.Future[Any] | None = None
    session = await upstream_session()
    sent_in = session.generation
    stop_listening = _nothing
    ended = "ended"
    try:
        client = await connected_client()
        sent_in = session.generation
        if task.delivery == "sync":  # an async task's polls hear from a new Runware that it forgot it
            stop_listening = session.listen(lambda: queue.put_nowait(_NEW_SESSION))
        call = asyncio.ensure_future(client.run(payload, options))
        ended = await _pump(run, task, handler, queue, call)
        if ended == "forgotten":
            await _abandon(call)  # it would wait for the rest until RUNWARE_TIMEOUT
        else:
            await call
    except asyncio.CancelledError:
        if call is not None:  # the worker is stopping: the SDK's call ends with the task
            call.cancel()
        raise
    except Exception as exc:  # every SDK or network failure
        error = from_sdk(exc)
        restarted = session.generation != sent_in
        if error.code == "connection" and task.delivery == "sync":
            await recover(run, task, handler, restarted=restarted)
            return
        if error.code == "notFound" and restarted:  # an async task's poll, answered by a new Runware
            error = forgotten(task, restarted=True)
        await fail(task, handler, error)
        return
    finally:
        stop_listening()
    if ended == "forgotten":
        await recover(run, task, handler, restarted=True)
    else:
        await finish(task, handler)


def _nothing() -> None:
    pass


async def _grace(run: state.Run) -> None:
    """The moment a result's book-keeping gives way (see _pump): GRACE_SECONDS, unless someone is
    waiting for what it stores (hurry)."""
    if run.hurried:
        await asyncio.sleep(IO_TURN_SECONDS)  # the loop's I/O first all the same
        return
    loop = asyncio.get_running_loop()
    run.waking = loop.create_future()
    timer = loop.call_later(GRACE_SECONDS, _wake, run)
    try:
        await run.waking
    finally:
        timer.cancel()
        run.waking = None


def _wake(run: state.Run) -> None:
    if run.waking is not None and not run.waking.done():
        run.waking.set_result(None)


def hurry(task_id: Any) -> None:
    """Someone waits for what a task running here stores (a script fetching a result's file): its
    results' book-keeping starts without its moment's wait, now and for the rest of the task."""
    here = state.peek()
    run = here.runs.get(str(task_id)) if here is not None else None
    if run is not None:
        run.hurried = True
        _wake(run)


async def _abandon(call: asyncio.Future[Any]) -> None:
    """Stop the SDK's call and wait until it has let go of the task (its getResponse answers
    come to whoever asks next for the same taskUUID)."""
    call.cancel()
    await asyncio.gather(call, return_exceptions=True)


async def _pump(
    run: state.Run, task: Task, handler: Handler, queue: _Queue, call: asyncio.Future[Any]
) -> Literal["ended", "forgotten"]:
    """Handle results in arrival order until the upstream call has ended, or Runware has granted
    a new session (it forgot the task; what arrived before is handed on first).

    Results that arrived together are recorded together (one write for all of them), then
    handed to the feature one by one.
    """
    # The SDK calls back with every item before its call resolves: the end marker comes last.
    call.add_done_callback(lambda _: queue.put_nowait(None))
    while True:
        entries = [await queue.get()]
        # The book-keeping below (the charge, the fetch, the store) is nobody's wait: it gives way.
        # First to the loop's I/O: a result a feature handed on as it arrived (on_arrival) sits in
        # its socket's buffer until the loop polls (a timer's callback runs after the I/O of the
        # turn it falls due in). Then, for a moment, to what the result sets off: a script sends
        # its next task the moment its last result arrives, and that task waits on its admission
        # before anything is sent; once it is in flight, the charge's write waits for it (the
        # runner's writes give way to admissions: state.LoopState.admitting_now).
        await _grace(run)
        while not queue.empty() and entries[-1] is not None:
            entries.append(queue.get_nowait())
        results: list[dict[str, Any]] = []
        for entry in entries:
            if entry is None:
                await deliver(run, task, handler, results)
                return "ended"
            kind, item = entry
            if kind == "session":
                await deliver(run, task, handler, results)
                return "forgotten"
            if kind == "progress":
                await deliver(run, task, handler, results)
                results = []
                await publish(task.user_id, task.feature, task.pk, await handled(handler.on_progress(task, item)))
            elif item.get("status") != "error":  # the SDK raises for it once the call ends
                results.append(item)
        await deliver(run, task, handler, results)
