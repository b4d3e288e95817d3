"""Group commit: the runner's small writes, coalesced into one database round trip.

Every result of every task writes a ledger row, and every task is admitted and ended:
small writes, each of which would otherwise cost a trip to the database thread and a transaction
of its own. A `GroupCommit` queues them instead. When the database thread is free, the next write
goes at once (so a lone task waits for nothing); while it is busy, the writes that arrive meanwhile
are queued and all go in its next trip, in one transaction. The busier the portal, the larger the
batches, and the cheaper each write.

Writes are of several kinds, each a batch function that runs in the database thread, takes the
queued items of its kind in arrival order and returns one outcome per item: a value, or an
exception that is raised to that item's caller only. A write that fails leaves the others written
(see _write_trip). The trip runs in an executor the caller owns (the runner's own database
thread): never in the thread of a request that may be waiting on the very write it queued.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, Protocol

from django.db import transaction

from runware_web.lib import sql
from runware_web.lib.loops import working_for
from runware_web.lib.reconnect import keep_or_renew, reconnecting

log = logging.getLogger(__name__)

MAX_BATCH = 200  # items per trip: keeps every statement well under the databases' parameter limits

BatchFunction = Callable[[list[Any]], Sequence[Any]]
AfterHook = Callable[[list[Any], Sequence[Any]], Awaitable[None]]
_Queued = tuple[BatchFunction, Any, asyncio.Future[Any]]
#: How long the writes that give way to others (GroupCommit's `yields_to`) wait for them at most.
YIELD_SECONDS = 0.05


class InFlight(Protocol):
    """Writes that others give way to: whether one is in flight, and a wait until none is."""

    def busy(self) -> bool: ...

    async def quiet(self, longest: float | None = None) -> None:
        """Wait until none is in flight, `longest` seconds at most (None: YIELD_SECONDS)."""


class Writer:
    """InFlight for writes that one task of its own sends (`writer`, None while none is out)."""

    writer: asyncio.Task[None] | None = None

    def busy(self) -> bool:
        return self.writer is not None

    async def quiet(self, longest: float | None = None) -> None:
        if self.writer is not None:
            await asyncio.wait({self.writer}, timeout=YIELD_SECONDS if longest is None else longest)


@dataclass(frozen=True)
class Together:
    """Several kinds of writes in flight as one (InFlight), waited for within one bound."""

    parts: tuple[InFlight, ...]

    def busy(self) -> bool:
        return any(part.busy() for part in self.parts)

    async def quiet(self, longest: float | None = None) -> None:
        loop = asyncio.get_running_loop()
        until = loop.time() + (YIELD_SECONDS if longest is None else longest)
        for part in self.parts:
            await part.quiet(max(0.0, until - loop.time()))


class GroupCommit(Writer):
    """`await writes(write_many, item)` queues `item` for `write_many(items) -> outcomes` and returns
    its outcome once the trip that carried it is committed.

    `after(items, outcomes)`, when given with a kind, runs in the event loop after each trip that
    carried that kind (to send one notification per trip instead of one per item). One instance
    belongs to one event loop.
    """

    def __init__(self, *, executor: Executor, yields_to: InFlight | None = None, pipelined: bool = False) -> None:
        self.executor = executor
        self.yields_to = yields_to
        self.pipelined = pipelined  # its trips in lib.sql.pipelined_transaction (see there who may)
        self._after: dict[BatchFunction, AfterHook] = {}
        self.pending: list[_Queued] = []
        self.writer: asyncio.Task[None] | None = None

    async def __call__(self, write_many: BatchFunction, item: Any, *, after: AfterHook | None = None) -> Any:
        return (await self.many(write_many, [item], after=after))[0]

    async def many(
        self, write_many: BatchFunction, items: list[Any], *, after: AfterHook | None = None
    ) -> list[Any]:
        """Queue several items of one kind at once; their outcomes, in order (or the first exception)."""
        if after is not None:
            self._after[write_many] = after
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in items]
        self.pending.extend((write_many, item, future) for item, future in zip(items, futures, strict=True))
        if self.writer is None:
            # The first trip goes to the database thread now, not a turn of the loop later, unless
            # it must wait for the writes it yields to.
            first = self._send() if self.yields_to is None or not self.yields_to.busy() else None
            # A fresh context: the writer outlives whichever request or task queued first.
            self.writer = loop.create_task(self._write(first), context=contextvars.Context())
        # A caller cancelled meanwhile cancels only its wait: its items are written all the same (the
        # writer skips their futures). Awaited as they are, without shield or gather for a lone item:
        # each of those is one more turn of a busy loop before the caller goes on.
        if len(futures) == 1:
            return [await futures[0]]
        return await asyncio.gather(*futures)

    def _send(self) -> tuple[list[_Queued], asyncio.Future[Sequence[Any]]]:
        """Send the next trip's items to the database thread; them, and the trip's outcomes to come.

        The thread hands the outcomes to their callers itself, in one callback on the loop: each
        caller goes on a turn of the loop sooner than through the writer, which hears of the trip last."""
        loop = asyncio.get_running_loop()
        trip, self.pending = self.pending[:MAX_BATCH], self.pending[MAX_BATCH:]
        items = [(write_many, item) for write_many, item, _ in trip]
        written: asyncio.Future[Sequence[Any]] = loop.create_future()

        def settle(outcomes: Sequence[Any]) -> None:  # in the loop
            for (_, _, future), outcome in zip(trip, outcomes, strict=True):
                if future.done():  # its caller stopped waiting
                    continue
                if isinstance(outcome, Exception):
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome)
            if not written.done():
                written.set_result(outcomes)

        def run() -> None:  # in the database thread
            try:
                with working_for(loop):  # what the trip sets off on commit belongs to this loop
                    outcomes = _trip_in_thread(items, pipelined=self.pipelined)
            except Exception as exc:  # the commit itself failed: every caller of the trip hears it
                outcomes = [exc] * len(items)
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody waits any more
                loop.call_soon_threadsafe(settle, outcomes)

        self.executor.submit(run)
        return trip, written

    async def _write(self, first: tuple[list[_Queued], asyncio.Future[Sequence[Any]]] | None) -> None:
        trip: list[_Queued] = first[0] if first else []
        try:
            while first is not None or self.pending:
                if first is None:
                    if self.yields_to is not None:
                        await self.yields_to.quiet()
                    first = self._send()
                (trip, written), first = first, None
                outcomes = await written
                done, trip = trip, []
                await self._run_after(done, outcomes)
        finally:
            self.writer = None
            for _, _, future in trip + self.pending:  # cancelled (the loop is closing)
                future.cancel()
            self.pending = []

    async def _run_after(self, trip: list[_Queued], outcomes: Sequence[Any]) -> None:
        for write_many, after in self._after.items():
            kind = [(item, outcome) for (function, item, _), outcome in zip(trip, outcomes, strict=True)
                    if function is write_many]
            if kind:
                try:
                    await after([item for item, _ in kind], [outcome for _, outcome in kind])
                except Exception:
                    log.exception("After writing a batch of %s", write_many.__name__)

    async def close(self) -> None:
        """Finish what is queued (for shutdown)."""
        if self.writer is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(self.writer)


def _trip_in_thread(queued: list[tuple[BatchFunction, Any]], *, pipelined: bool = False) -> list[Any]:
    """A trip in the executor's thread, on the connection the thread keeps from one trip to the next
    unless it is broken or old (lib.reconnect.keep_or_renew): straight to the executor, without
    channels' database_sync_to_async and its hand-offs through the event loop."""
    keep_or_renew()
    try:
        return _write_trip(queued, pipelined=pipelined)
    finally:
        keep_or_renew()


def _write_trip(queued: list[tuple[BatchFunction, Any]], *, pipelined: bool = False) -> list[Any]:
    """One trip: every kind's batch in one transaction.

    `pipelined`: the transaction is lib.sql.pipelined_transaction (the admissions': a statement
    that returns nothing waits for no answer of its own).

    Should anything raise (a database error: refusals and the like are outcomes, not exceptions),
    the transaction is rolled back and the trip is written again in parts, each in a transaction
    of its own: each kind alone and, for a kind that fails alone, each of its items alone. So only
    the callers whose own write fails hear of it. No savepoints on the usual path: on PostgreSQL
    each would be two more round trips. Batch functions must therefore change nothing outside the
    database before their transaction commits (see `transaction.on_commit`).

    A transaction whose connection PostgreSQL drops is rolled back with it, and written once more
    on a new connection (lib.reconnect) before anything is split. Should the drop come during the
    commit itself, the first writing may have been kept: the ledger then skips the charges it holds
    and an end sets the same values again (an admission meets its own rows' keys and fails); only a
    task's count of results received may then count that trip's results twice.
    """
    kinds: dict[BatchFunction, list[int]] = {}
    for index, (write_many, _) in enumerate(queued):
        kinds.setdefault(write_many, []).append(index)
    outcomes: list[Any] = [None] * len(queued)

    @reconnecting
    def write(parts: list[tuple[BatchFunction, list[int]]]) -> None:
        with sql.pipelined_transaction() if pipelined else transaction.atomic():
            for write_many, indexes in parts:
                results = write_many([queued[index][1] for index in indexes])
                for index, result in zip(indexes, results, strict=True):
                    outcomes[index] = result

    def written(parts: list[tuple[BatchFunction, list[int]]]) -> bool:
        try:
            write(parts)
        except Exception as exc:
            if len(parts) == 1 and len(parts[0][1]) == 1:
                outcomes[parts[0][1][0]] = exc
            return False
        return True

    everything = list(kinds.items())
    if written(everything) or len(queued) == 1:
        return outcomes
    for write_many, indexes in kinds.items():
        if len(kinds) > 1 and written([(write_many, indexes)]):
            continue
        for index in indexes:
            written([(write_many, [index])])
    return outcomes
