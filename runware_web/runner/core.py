"""The task runner: the one door through which every Runware task passes.

A consumer (or view) calls `runner.submit(...)`; the runner admits the task against the member's
budget, writes the Task row *before* anything is sent, and runs the upstream call as an
independent asyncio task of the process (never a consumer's child, so closing the tab cancels
nothing). Each result is handed to the feature's `Handler` for persistence, its cost goes to the
ledger, and the HTML the handler returns is published to the member's group, so every open tab of
that member (on any worker) sees it.

One `runware-sdk` client per process and event loop, created lazily inside the running loop. The
runner's own writes (admission, ledger rows, task ends) go through a group commit
(`upstream.batching`): whatever queues up while the database is busy goes in one transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import os
import socket
import uuid
import weakref
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Any

from asgiref.sync import ThreadSensitiveContext
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.cache import cache
from django.db import connection, connections, transaction
from django.utils import timezone

from runware_web.lib import sql
from runware_web.media.store import mentions_image_ref, resolve_image_refs
from runware_web.money.admission import admit_many, lock_members
from runware_web.money.ledger import record_charges
from runware_web.money.prices import estimate
from runware_web.money.prices import PriceMemory
from runware_web.runner.batching import GroupCommit
from runware_web.upstream.errors import UpstreamError, from_sdk
from runware_web.lib.groups import STAFF_SPEND_GROUP, user_group
from runware_web.upstream.models import Task, Worker

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 15.0
PRICE_MEMORY_SECONDS = 10.0  # how long admission's price estimates reuse what recent tasks cost
CLOSE_TIMEOUT = 5.0  # seconds each step of shutdown may take
NOT_STARTED = UpstreamError(
    code="aborted", message="The portal could not start this task. Nothing was billed; start it again."
)
STALE_WORKER_SECONDS = 60.0
STREAM_PUBLISH_INTERVAL = 0.05  # seconds between two published chunks of a streamed reply
UPSTREAM_STATUS_KEY = "runware-web:upstream-status"
UPSTREAM_OK, UPSTREAM_UNREACHABLE, UPSTREAM_KEY_REFUSED = "ok", "unreachable", "key-refused"

# Keys that identify one output of a task (the SDK's own de-duplication order, §7.7).
_RESULT_ID_KEYS = (
    "imageUUID", "videoUUID", "audioUUID", "modelUUID", "maskImageUUID", "guideImageUUID", "mediaUUID",
)


class Handler:
    """What a feature does with its tasks' outcomes.

    Every method runs in the runner's event loop (use `database_sync_to_async` for the ORM) and
    returns HTML to push to the member's open tabs, or "" for nothing. A handler must not raise
    for ordinary outcomes; if it does, the runner logs it and tells the member.
    """

    feature: str = ""

    async def on_result(self, task: Task, item: dict[str, Any]) -> str:
        """One finished output (an image, a caption…). Its cost is already in the ledger."""
        return ""

    async def on_progress(self, task: Task, item: dict[str, Any]) -> str:
        return ""

    async def on_chunk(self, task: Task, text: str, reasoning: str) -> str:
        """A streamed reply grew; `text` and `reasoning` are everything received so far."""
        return ""

    async def on_stream_end(self, task: Task, result: Any) -> None:
        """A streamed reply ended (a runware TextStreamResult); save it before on_finished."""

    async def on_finished(self, task: Task) -> str:
        """All results arrived (or the task was cancelled and has now ended)."""
        return ""

    async def on_failed(self, task: Task, error: UpstreamError) -> str:
        return ""


_handlers: dict[str, Handler] = {}


def register(handler: Handler) -> Handler:
    """Register a feature's handler (call at import time of the feature's `handlers` module)."""
    _handlers[handler.feature] = handler
    return handler


def handler_for(feature: str) -> Handler:
    return _handlers.get(feature) or Handler()


@dataclass
class _Run:
    """Book-keeping of one running task inside this process."""

    task_id: uuid.UUID
    seen: set[str | int] = field(default_factory=set)
    future: asyncio.Task[None] | None = None


def result_key(item: dict[str, Any], fallback: str) -> str:
    """Which output of a task an item is, the way the SDK de-duplicates them."""
    index = item.get("resultIndex")
    if isinstance(index, int):
        return f"#{index}"
    for key in _RESULT_ID_KEYS:
        value = item.get(key)
        if isinstance(value, str) and value:
            return value
    return fallback


def parse_cost(value: Any) -> Decimal | None:
    """Runware reports cost as a JSON number; keep exactly the digits it sent."""
    if value is None or isinstance(value, bool):
        return None
    try:
        cost = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return cost if cost.is_finite() and cost >= 0 else None


async def publish(user_id: int, feature: str, task_id: Any, html: str) -> None:
    """Send an HTML fragment to every open tab of a member, on any worker."""
    if not html:
        return
    layer = get_channel_layer()
    if layer is None:
        return
    await layer.group_send(
        user_group(user_id),
        {"type": "task.update", "feature": feature, "task_id": str(task_id), "html": html},
    )


@dataclass
class _LoopState:
    """The runner's state in one event loop: a client and its tasks belong to one loop."""

    client_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    client: Any = None
    runs: dict[str, _Run] = field(default_factory=dict)
    background: set[asyncio.Task[Any]] = field(default_factory=set)
    # The runner's writes go through one thread of their own: requests (which may be waiting on a
    # write, as a view starting a task does) keep theirs.
    database: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=1, thread_name_prefix="runware-runner-db")
    )
    writes: GroupCommit = field(init=False)
    admit: Any = field(init=False)  # _admit_and_create_many, with this loop's memory of recent prices
    started: bool = False

    def __post_init__(self) -> None:
        self.writes = GroupCommit(executor=self.database)
        self.admit = partial(_admit_and_create_many, prices=PriceMemory(PRICE_MEMORY_SECONDS))


async def _notify_staff(items: list[tuple[Task, str, Decimal | None]], charged: Sequence[Any]) -> None:
    """The staff spend page follows the ledger live: one message per member per batch of charges."""
    layer = get_channel_layer()
    if layer is None:
        return
    for user_id in dict.fromkeys(task.user_id for (task, _, _), new in zip(items, charged, strict=True) if new is True):
        await layer.group_send(STAFF_SPEND_GROUP, {"type": "spend.changed", "user_id": user_id})


class Runner:
    def __init__(self) -> None:
        self.worker_id = f"{socket.gethostname()[:30]}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._states: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopState] = (
            weakref.WeakKeyDictionary()
        )
        self._last: tuple[weakref.ref[Any], Any] = (lambda: None, None)  # the loop and state of the last call

    # ------------------------------------------------------------------ life cycle

    @property
    def _state(self) -> _LoopState:
        loop = asyncio.get_running_loop()
        last_loop, last_state = self._last
        if last_loop() is loop:  # nearly always: one loop per process outside the tests
            return last_state
        state = self._states.get(loop)
        if state is None:
            state = self._states[loop] = _LoopState()
        self._last = (weakref.ref(loop), state)
        return state

    @property
    def _runs(self) -> dict[str, _Run]:
        return self._state.runs

    async def _write(self, write_many: Any, item: Any, **options: Any) -> Any:
        """Queue one write for this loop's group commit (see batching); its outcome."""
        return await self._state.writes(write_many, item, **options)

    async def ensure_started(self) -> None:
        """Register this worker, start its heartbeat and recover what dead workers left."""
        state = self._state
        if state.started:
            return
        state.started = True
        await database_sync_to_async(self._register_worker)()
        self._spawn(self._heartbeat())
        self._spawn(self._watch_upstream())
        self._spawn(self.recover_orphans())
        _install_shutdown_hook(self)

    async def client(self) -> Any:
        state = self._state
        async with state.client_lock:
            if state.client is None:
                from runware import Runware

                state.client = Runware(
                    api_key=settings.RUNWARE_API_KEY or "simulator",
                    transport="websocket",
                    ws_base_url=settings.RUNWARE_WS_URL,
                    http_base_url=settings.RUNWARE_HTTP_URL,
                    timeout=int(settings.RUNWARE_TIMEOUT * 1000),
                    poll_timeout=int(settings.RUNWARE_TIMEOUT * 1000),
                    max_retries=settings.RUNWARE_MAX_RETRIES,
                    retry_delay=int(settings.RUNWARE_RETRY_DELAY * 1000),
                    validate=False,
                )
            return state.client

    async def shutdown(self, grace: float | None = None) -> None:
        """Wait briefly for running tasks, then stop; what is still running stays recoverable."""
        state = self._states.pop(asyncio.get_running_loop(), None)
        self._last = (lambda: None, None)
        if state is None:
            return
        grace = settings.RUNWARE_SHUTDOWN_GRACE if grace is None else grace
        pending = [run.future for run in state.runs.values() if run.future and not run.future.done()]
        if pending:
            _, still = await asyncio.wait(pending, timeout=grace)
            for future in still:
                future.cancel()
            if still:
                log.warning(
                    "Shutting down with %d task(s) still running; the next worker recovers them.", len(still)
                )
                await asyncio.wait(still, timeout=CLOSE_TIMEOUT)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(state.writes.close(), timeout=CLOSE_TIMEOUT)
        await asyncio.get_running_loop().run_in_executor(state.database, connections.close_all)
        state.database.shutdown(wait=False)
        for background in list(state.background):
            background.cancel()
        if state.background:
            await asyncio.wait(list(state.background), timeout=CLOSE_TIMEOUT)
        if state.client is not None:
            # The SDK's close can wait on a reconnect in progress; never let it hold shutdown.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(state.client.close(), timeout=CLOSE_TIMEOUT)
        if state.started:
            await database_sync_to_async(self._mark_stopped)()

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        background = self._state.background
        task = asyncio.get_running_loop().create_task(coro, context=contextvars.Context())
        background.add(task)
        task.add_done_callback(background.discard)
        return task

    @property
    def running_count(self) -> int:
        return sum(1 for run in self._runs.values() if run.future and not run.future.done())

    # ------------------------------------------------------------------ submitting

    async def submit(
        self,
        *,
        user: Any,
        feature: str,
        task_type: str,
        params: dict[str, Any],
        number_results: int = 1,
        estimated_cost: Decimal | None = None,
        delivery: str = "sync",
        before_start: Callable[[Task], Awaitable[Any]] | None = None,
    ) -> Task:
        """Admit, record and start a task. Raises `Refused` when the budget or rate limit says no.

        `before_start(task)` is awaited once the task is recorded and before it is sent: a feature
        records its own rows for the task there (and shows it to the member), so that its first
        result, which may come back at once, finds them. Should it raise, the task ends unsent.

        `params` are Runware's own parameters; the runner adds taskType, taskUUID, includeCost
        and deliveryMethod. `delivery` is "sync" (results pushed as they are ready), "async"
        (acknowledged, then polled; for long tasks such as video) or "stream" (textInference
        over SSE). `estimated_cost` is what admission reserves of the budgets while the task runs;
        without one, the spend piece's price estimate is used.
        """
        await self.ensure_started()
        task = await self._write(
            self._state.admit,
            {
                "worker": self.worker_id,
                "user": user,
                "feature": feature,
                "task_type": task_type,
                "params": params,
                "number_results": number_results,
                "estimated_cost": estimated_cost,
                "delivery": delivery,
            },
        )
        if before_start is not None:
            try:
                await before_start(task)
            except BaseException:
                await asyncio.shield(self._write(_mark_ended_many, (task, Task.Status.FAILED, NOT_STARTED)))
                raise
        self.start(task)
        return task

    def start(self, task: Task) -> None:
        """Run a task just admitted (and claimed by this worker) in the background of this process."""
        run = _Run(task_id=task.pk)
        runs = self._runs
        execute = self._execute_stream if task.delivery == "stream" else self._execute
        runner_coro = execute(run, task)
        # Callers that start tasks from a request run `submit` in a context of their own (see
        # `detached` below), so the task does not hold on to the request's database thread.
        run.future = asyncio.get_running_loop().create_task(runner_coro, name=f"runware-task-{task.pk}")
        runs[str(task.pk)] = run
        run.future.add_done_callback(lambda _: runs.pop(str(task.pk), None))

    async def wait(self, task_id: Any) -> None:
        """Wait until a task started in this process has ended (for tests and benchmarks)."""
        run = self._runs.get(str(task_id))
        if run and run.future:
            await asyncio.shield(run.future)

    async def cancel(self, *, user: Any, task_id: Any) -> Task | None:
        """Mark a member's active task cancelled. Runware still bills it, so whatever arrives later
        is still saved and charged. Returns None when there is no such active task of theirs."""
        return await database_sync_to_async(_mark_cancelled)(user=user, task_id=task_id)

    async def _record(self, task: Task, outputs: list[tuple[str, Decimal | None]]) -> None:
        """Count outputs (result key, cost) and put their costs in the ledger, in one queued write."""
        charges = [(task, key, cost) for key, cost in outputs]
        await self._state.writes.many(record_charges, charges, after=_notify_staff)

    # ------------------------------------------------------------------ running

    async def _prepare(self, task: Task) -> tuple[Handler, dict[str, Any]] | None:
        """The task's handler and the parameters to send, its inputs resolved; None: it failed."""
        handler = handler_for(task.feature)
        if not mentions_image_ref(task.params):
            return handler, task.params
        database = self._state.database
        resolve = database_sync_to_async(resolve_image_refs, thread_sensitive=False, executor=database)
        try:
            return handler, await resolve(task.user_id, task.params)
        except Exception as exc:
            await self._fail(task, handler, UpstreamError(code="validation", message=str(exc)))
            return None

    async def _execute(self, run: _Run, task: Task) -> None:
        from runware import RunOptions

        prepared = await self._prepare(task)
        if prepared is None:
            return
        handler, params = prepared
        queue: asyncio.Queue[tuple[str, dict[str, Any]] | None] = asyncio.Queue()
        payload = {
            **params,
            "taskType": task.task_type,
            "taskUUID": str(task.pk),
            "includeCost": True,
            "deliveryMethod": task.delivery,
        }
        options = RunOptions(
            on_result=lambda item: queue.put_nowait(("result", item)),
            on_progress=lambda item: queue.put_nowait(("progress", item)),
            timeout=int(settings.RUNWARE_TIMEOUT * 1000),
        )
        call: asyncio.Future[Any] | None = None
        try:
            client = await self.client()
            call = asyncio.ensure_future(client.run(payload, options))
            await self._pump(run, task, handler, queue, call)
            call.result()
        except asyncio.CancelledError:
            if call is not None:  # the worker is stopping: the SDK's call ends with the task
                call.cancel()
            raise
        except Exception as exc:  # every SDK or network failure
            error = from_sdk(exc)
            if error.code == "connection" and task.delivery == "sync":
                await self._recover(run, task, handler, lost=error)
                return
            await self._fail(task, handler, error)
            return
        await self._finish(task, handler)

    async def _pump(
        self,
        run: _Run,
        task: Task,
        handler: Handler,
        queue: asyncio.Queue[tuple[str, dict[str, Any]] | None],
        call: asyncio.Future[Any],
    ) -> None:
        """Handle results in arrival order until the upstream call has ended.

        Results that arrived together are recorded together (one write for all of them), then
        handed to the feature one by one.
        """
        # The SDK calls back with every item before its call resolves: the end marker comes last.
        call.add_done_callback(lambda _: queue.put_nowait(None))
        while True:
            entries = [await queue.get()]
            while not queue.empty() and entries[-1] is not None:
                entries.append(queue.get_nowait())
            results: list[dict[str, Any]] = []
            for entry in entries:
                if entry is None:
                    await self._deliver(run, task, handler, results)
                    return
                kind, item = entry
                if kind == "progress":
                    await self._deliver(run, task, handler, results)
                    results = []
                    await publish(task.user_id, task.feature, task.pk, await _safe(handler.on_progress(task, item)))
                elif item.get("status") != "error":  # the SDK raises for it once the call ends
                    results.append(item)
            await self._deliver(run, task, handler, results)

    async def _deliver(self, run: _Run, task: Task, handler: Handler, items: list[dict[str, Any]]) -> None:
        fresh: list[tuple[str, dict[str, Any]]] = []
        for item in items:
            key = result_key(item, fallback=f"#{len(run.seen)}")
            if key not in run.seen:
                run.seen.add(key)
                fresh.append((key, item))
        # Runware has billed these outputs: the charges are recorded before anything else can fail.
        await self._record(task, [(key, parse_cost(item.get("cost"))) for key, item in fresh])
        for _, item in fresh:
            try:
                html = await handler.on_result(task, item)
            except Exception:
                log.exception("Saving a result of task %s failed", task.pk)
                html = ""
            await publish(task.user_id, task.feature, task.pk, html)

    async def _recover(self, run: _Run, task: Task, handler: Handler, *, lost: UpstreamError) -> None:
        """The socket dropped with the task in flight: fetch what Runware still holds for it."""
        deadline = asyncio.get_running_loop().time() + settings.RUNWARE_RECOVERY_TIMEOUT
        delay = 0.5
        while asyncio.get_running_loop().time() < deadline:
            try:
                client = await self.client()
                items = await asyncio.wait_for(
                    client.get_response({"taskUUID": str(task.pk)}),
                    timeout=max(1.0, deadline - asyncio.get_running_loop().time()),
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                error = from_sdk(exc)
                if error.code not in {"connection", "unavailable", "timeout", "serverError", "rateLimit"}:
                    await self._fail(task, handler, lost if error.code == "notFound" else error)
                    return
                items = []
            await self._deliver(run, task, handler, [item for item in items
                                                     if item.get("status") not in {"processing", "error"}])
            failed = next((item for item in items if item.get("status") == "error"), None)
            if failed is not None:
                await self._fail(task, handler, _item_error(failed.get("error") or {}))
                return
            if len(run.seen) >= task.number_results:
                await self._finish(task, handler)
                return
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 5.0)
        await self._fail(task, handler, lost)

    async def _execute_stream(self, run: _Run, task: Task) -> None:
        from runware import StreamOptions

        prepared = await self._prepare(task)
        if prepared is None:
            return
        handler, params = prepared
        payload = {**params, "taskType": task.task_type, "taskUUID": str(task.pk), "includeCost": True}
        text: list[str] = []
        reasoning: list[str] = []
        loop = asyncio.get_running_loop()
        last_publish = 0.0

        async def grew(final: bool = False) -> None:
            nonlocal last_publish
            now = loop.time()
            if not final and now - last_publish < STREAM_PUBLISH_INTERVAL:
                return
            last_publish = now
            html = await _safe(handler.on_chunk(task, "".join(text), "".join(reasoning)))
            await publish(task.user_id, task.feature, task.pk, html)

        async def read_reasoning(stream: Any) -> None:
            async for piece in stream.reasoning_stream:
                reasoning.append(piece)
                await grew()

        try:
            client = await self.client()
            stream = await client.stream(payload, StreamOptions(timeout=int(settings.RUNWARE_TIMEOUT * 1000)))
            reasoning_reader = asyncio.ensure_future(read_reasoning(stream))
            try:
                async for piece in stream.text_stream:
                    text.append(piece)
                    await grew()
            finally:
                with contextlib.suppress(Exception):
                    await reasoning_reader
            result = await stream.result()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await grew(final=True)
            await self._fail(task, handler, from_sdk(exc))
            return
        await grew(final=True)
        await self._record(task, [("stream", parse_cost(result.cost))])
        try:
            await handler.on_stream_end(task, result)
        except Exception:
            log.exception("Saving the streamed reply of task %s failed", task.pk)
        await self._finish(task, handler)

    async def _finish(self, task: Task, handler: Handler) -> None:
        await self._write(_mark_ended_many, (task, Task.Status.DONE, None))
        await publish(task.user_id, task.feature, task.pk, await _safe(handler.on_finished(task)))

    async def _fail(self, task: Task, handler: Handler, error: UpstreamError) -> None:
        log.info("Task %s (%s) failed: %s [%s]", task.pk, task.task_type, error.code, error.detail)
        await self._write(_mark_ended_many, (task, Task.Status.FAILED, error))
        await publish(task.user_id, task.feature, task.pk, await _safe(handler.on_failed(task, error)))

    # ------------------------------------------------------------------ workers and recovery

    def _register_worker(self) -> None:
        Worker.objects.update_or_create(
            id=self.worker_id,
            defaults={"hostname": socket.gethostname(), "pid": os.getpid(), "last_seen": timezone.now()},
        )

    def _mark_stopped(self) -> None:
        Worker.objects.filter(id=self.worker_id).update(stopped_at=timezone.now())

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            await database_sync_to_async(
                lambda: Worker.objects.filter(id=self.worker_id).update(last_seen=timezone.now())
            )()

    async def _watch_upstream(self) -> None:
        """Keep the upstream session open and tell every page whether Runware can be reached."""
        delay = 1.0
        while True:
            status = UPSTREAM_OK
            try:
                client = await self.client()
                if not client.is_connected:
                    await asyncio.wait_for(client.connect(), timeout=15)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                status = UPSTREAM_KEY_REFUSED if from_sdk(exc).code == "auth" else UPSTREAM_UNREACHABLE
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

    async def recover_orphans(self) -> int:
        """Adopt tasks whose worker died (or stopped) mid-task and fetch their results from Runware.

        Returns how many tasks were adopted.
        """
        adopted = await database_sync_to_async(_adopt_orphans)(self.worker_id)
        for task in adopted:
            if task.status == Task.Status.QUEUED:
                # Never sent: nothing was billed, so the honest outcome is a failure saying so.
                error = UpstreamError(
                    code="aborted",
                    message="The portal restarted before this task was sent to Runware. Nothing was "
                    "billed; start it again.",
                )
                await self._fail(task, handler_for(task.feature), error)
                continue
            run = _Run(task_id=task.pk)
            run.seen.update(await database_sync_to_async(_charged_keys)(task))
            lost = UpstreamError(
                code="connection",
                message="The portal restarted while this task was running, and its results could "
                "not be fetched from Runware. It may have been billed: check History before retrying.",
            )
            run.future = self._spawn(self._recover(run, task, handler_for(task.feature), lost=lost))
            self._runs[str(task.pk)] = run
        return len(adopted)


async def detached(work: Any) -> Any:
    """Run `work` (and any runner task it starts) outside the current request's context.

    An async view runs inside the request's thread-sensitive context, whose thread executor is
    shut down once the response is sent; a task started from it could not save its results
    afterwards. Views that start tasks call `await detached(...)`; work started
    here gets a context and a database thread of its own.
    """

    async def run() -> Any:
        async with ThreadSensitiveContext():
            return await work

    return await asyncio.get_running_loop().create_task(run(), context=contextvars.Context())


async def _safe(coro: Any) -> str:
    try:
        return await coro or ""
    except Exception:
        log.exception("A task handler failed")
        return ""


def _item_error(nested: dict[str, Any]) -> UpstreamError:
    from runware import create_runware_error

    exc = create_runware_error(
        str(nested.get("code") or "unknownError"),
        str(nested.get("message") or "The task failed."),
    )
    error = from_sdk(exc)
    error.parameter = error.parameter or str(nested.get("parameter") or "")
    return error


# ---------------------------------------------------------------------- database work (sync)


def _admit_and_create(**request: Any) -> Task:
    """Admit and record one task, in a transaction of its own (raises Refused).

    See _admit_and_create_many."""
    with transaction.atomic():
        outcome = _admit_and_create_many([request])[0]
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


def _admit_and_create_many(
    requests: list[dict[str, Any]], *, prices: PriceMemory | None = None
) -> list[Task | Exception]:
    """Admit submitted tasks and write their rows, in submission order.

    Each request holds `user`, `estimated_cost` (None: the price estimate, reusing what `prices`
    remembers) and Task fields, among them the `worker` that runs it. The rows are written
    running: the worker sends each task as soon as it is admitted. A refused task's outcome is
    its `Refused`. Runs inside a transaction (a group commit's trip): should the database fail,
    the trip is written again request by request (see upstream.batching), so that only the
    member whose request fails hears of it.
    """
    learned = prices.current() if prices is not None else {}
    now = timezone.now()
    outcomes: list[Task | Exception | None] = [None] * len(requests)  # Task or Refused
    members: dict[int, list[int]] = {}
    for index, request in enumerate(requests):
        members.setdefault(request["user"].pk, []).append(index)
    locked = lock_members(list(members))
    unwritten: list[Task] = []
    for user_id, indexes in members.items():
        if locked[user_id].team is not None and unwritten:
            # A member whose team has a budget counts what teammates were just admitted: written first.
            Task.objects.bulk_create(unwritten)
            unwritten = []
        tasks = [_new_task(requests[index], estimate, learned, now) for index in indexes]
        refusals = admit_many(
            user=requests[indexes[0]]["user"], estimates=[task.estimated_cost for task in tasks],
            member=locked[user_id],
        )
        for index, task, refused in zip(indexes, tasks, refusals, strict=True):
            outcomes[index] = refused or task
            if not refused:
                unwritten.append(task)
    Task.objects.bulk_create(unwritten)
    return outcomes  # type: ignore[return-value]


def _new_task(request: dict[str, Any], estimate: Any, learned: dict[tuple, Decimal | None], now: Any) -> Task:
    fields = dict(request)
    user, estimated_cost = fields.pop("user"), fields.pop("estimated_cost")
    if estimated_cost is None:
        estimated_cost = estimate(fields["task_type"], fields["params"], fields["number_results"], learned=learned)
    return Task(
        user=user,
        team_id=user.team_id,
        model=str(fields["params"].get("model", ""))[:200],
        estimated_cost=estimated_cost,
        status=Task.Status.RUNNING,
        started_at=now,
        **fields,
    )


def _mark_ended_many(items: list[tuple[Task, str, UpstreamError | None]]) -> list[None]:
    """Finish tasks; a cancelled task stays cancelled whatever happens after. The Task objects are
    updated in place (their handlers read the final state; the ledger keeps their counts)."""
    now = timezone.now()
    plain: dict[str, list[Task]] = {}
    ends: list[tuple[str, UpstreamError | None, list[Task]]] = []
    for task, status, error in items:
        if error is None:
            plain.setdefault(status, []).append(task)
        else:
            ends.append((status, error, [task]))
    ends += [(status, None, tasks) for status, tasks in plain.items()]
    for status, error, tasks in ends:
        fields: dict[str, Any] = {"finished_at": now}
        if error is not None:
            fields.update(
                error_code=error.code, error_message=error.full_message, error_parameter=error.parameter[:100]
            )
        ids = [task.pk for task in tasks]
        ended = _end_unless_cancelled(ids, status=str(status), **fields)
        cancelled: dict[uuid.UUID, Any] = {}
        if ended < len(set(ids)):  # the member cancelled some meanwhile: those end as cancelled
            cancelled_ones = Task.objects.filter(pk__in=ids, status=Task.Status.CANCELLED)
            cancelled_ones.update(**fields)
            cancelled = dict(cancelled_ones.values_list("pk", "cancelled_at"))
        transaction.on_commit(partial(_follow_end, tasks, status, fields, cancelled))
    return [None] * len(items)


def _follow_end(tasks: list[Task], status: str, fields: dict[str, Any], cancelled: dict[uuid.UUID, Any]) -> None:
    """Ended tasks' objects take their final state, once it is committed."""
    for task in tasks:
        for name, value in fields.items():
            setattr(task, name, value)
        task.status = Task.Status.CANCELLED if task.pk in cancelled else status
        task.cancelled_at = cancelled.get(task.pk, task.cancelled_at)


def _end_unless_cancelled(ids: list[uuid.UUID], **fields: Any) -> int:
    """Set fields of the tasks that are not cancelled; how many it set. Written by hand (see
    runware_web.lib.sql): it runs for every task."""
    assignments = ", ".join(f"{sql.column(Task, name)} = %s" for name in fields)
    statement = (
        f"UPDATE {sql.table(Task)} SET {assignments} "
        f"WHERE {sql.column(Task)} IN ({sql.placeholders(len(ids))}) AND {sql.column(Task, 'status')} <> %s"
    )
    params = [sql.value(Task, name, value) for name, value in fields.items()]
    params += [sql.value(Task, "pk", pk) for pk in ids]
    with connection.cursor() as cursor:
        cursor.execute(statement, [*params, Task.Status.CANCELLED.value])
        return cursor.rowcount


def _mark_cancelled(*, user: Any, task_id: Any) -> Task | None:
    try:
        task_uuid = uuid.UUID(str(task_id))
    except ValueError:
        return None
    updated = Task.objects.filter(
        pk=task_uuid, user=user, status__in=[Task.Status.QUEUED, Task.Status.RUNNING]
    ).update(status=Task.Status.CANCELLED, cancelled_at=timezone.now())
    if not updated:
        return None
    return Task.objects.get(pk=task_uuid)


def _charged_keys(task: Task) -> set[str | int]:
    return set(task.charges.values_list("result_key", flat=True))


def _adopt_orphans(worker_id: str) -> list[Task]:
    stale_before = timezone.now() - timedelta(seconds=STALE_WORKER_SECONDS)
    alive = set(
        Worker.objects.filter(stopped_at__isnull=True, last_seen__gte=stale_before).values_list("id", flat=True)
    )
    alive.add(worker_id)
    adopted = []
    for task in Task.objects.filter(status__in=[Task.Status.QUEUED, Task.Status.RUNNING, Task.Status.CANCELLED],
                                    finished_at__isnull=True).exclude(worker__in=alive):
        if task.status == Task.Status.QUEUED and task.created_at > stale_before:
            continue  # just created by a live request on another worker that has not started it yet
        # Claim it with a conditional update, so that two workers never adopt the same task.
        if Task.objects.filter(pk=task.pk, worker=task.worker, finished_at__isnull=True).update(worker=worker_id):
            task.refresh_from_db()
            adopted.append(task)
    return adopted


def _install_shutdown_hook(runner: Runner) -> None:
    """Daphne has no ASGI lifespan: hook the Twisted reactor's shutdown, when there is one."""
    import sys

    if "twisted.internet.reactor" not in sys.modules:
        return
    from twisted.internet import defer, reactor

    def before_shutdown() -> Any:
        return defer.Deferred.fromFuture(asyncio.ensure_future(stop()))

    async def stop() -> None:
        await runner.shutdown()
        # What asyncio.run does on its way out and Twisted does not: cancel the tasks still pending
        # and let them end. A request cut short (Daphne cancels it just before this) leaves tasks
        # behind, as Django's ASGIHandler does not cancel its helpers when it is cancelled itself.
        # Left pending, they were collected at interpreter exit, where CPython 3.11 crashed on them.
        leftovers = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in leftovers:
            task.cancel()
        if leftovers:
            await asyncio.wait(leftovers, timeout=CLOSE_TIMEOUT)

    reactor.addSystemEventTrigger("before", "shutdown", before_shutdown)


runner = Runner()
