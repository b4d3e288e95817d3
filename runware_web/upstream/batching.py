"""Group commit: the runner's small writes, coalesced into one database round trip.

Every result of every task writes a ledger row, and every task is admitted, claimed and ended:
small writes, each of which would otherwise cost a trip to the database thread and a transaction
of its own. A `GroupCommit` queues them instead. When the database thread is free, the next write
goes at once (so a lone task waits for nothing); while it is busy, the writes that arrive meanwhile
are queued and all go in its next trip, in one transaction. The busier the portal, the larger the
batches, and the cheaper each write.

A batch function runs in the database thread, takes the queued items in arrival order and returns
one outcome per item: a value, or an exception that is raised to that item's caller only. It runs
in an executor the caller owns (the runner's own database thread): never in the thread of a request
that may be waiting on the very write it queued.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Executor
from typing import Any

from channels.db import database_sync_to_async

MAX_BATCH = 200  # items per round trip: keeps every statement well under the databases' parameter limits

BatchFunction = Callable[[list[Any]], Sequence[Any]]


class GroupCommit:
    """Queue items for `write_many(items) -> outcomes`; `await batch(item)` returns its outcome.

    `after(items, outcomes)`, if given, runs in the event loop once a batch is written (to send
    one notification per batch instead of one per item). One instance belongs to one event loop.
    """

    def __init__(
        self,
        write_many: BatchFunction,
        *,
        executor: Executor,
        after: Callable[[list[Any], Sequence[Any]], Awaitable[None]] | None = None,
    ) -> None:
        self.write_many = database_sync_to_async(write_many, thread_sensitive=False, executor=executor)
        self.after = after
        self.pending: list[tuple[Any, asyncio.Future[Any]]] = []
        self.writer: asyncio.Task[None] | None = None

    async def __call__(self, item: Any) -> Any:
        future = asyncio.get_running_loop().create_future()
        self.pending.append((item, future))
        if self.writer is None:
            # A fresh context: the writer outlives whichever request or task queued first.
            self.writer = asyncio.get_running_loop().create_task(self._write(), context=contextvars.Context())
        return await asyncio.shield(future)

    async def _write(self) -> None:
        batch: list[tuple[Any, asyncio.Future[Any]]] = []
        try:
            while self.pending:
                batch, self.pending = self.pending[:MAX_BATCH], self.pending[MAX_BATCH:]
                items = [item for item, _ in batch]
                try:
                    outcomes = await self.write_many(items)
                except Exception as exc:  # the whole round trip failed: every item's caller hears it
                    outcomes = [exc] * len(batch)
                for (_, future), outcome in zip(batch, outcomes, strict=True):
                    if isinstance(outcome, Exception):
                        future.set_exception(outcome)
                    else:
                        future.set_result(outcome)
                batch = []
                if self.after is not None:
                    with contextlib.suppress(Exception):
                        await self.after(items, outcomes)
        finally:
            self.writer = None
            for _, future in batch + self.pending:  # cancelled (the loop is closing): nobody waits on
                future.cancel()
            self.pending = []

    async def close(self) -> None:
        """Finish what is queued (for shutdown)."""
        if self.writer is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(self.writer)
