"""The runner's state in one event loop, and the book-keeping of each task it runs.

Tasks, their writes and the SDK's client belong to the loop that made them, so the runner keeps
one `LoopState` per event loop (one per process outside the tests, which run a loop per test).
"""

from __future__ import annotations

import asyncio
import contextvars
import uuid
import weakref
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from runware_web.money.prices import PriceMemory
from runware_web.runner.admit import admit_and_create_many
from runware_web.runner.batching import BatchFunction, GroupCommit, Together
from runware_web.runner.quick import QuickAdmissions

PRICE_MEMORY_SECONDS = 10.0  # how long admission's price estimates reuse what recent tasks cost


@dataclass
class Run:
    """Book-keeping of one running task inside this process."""

    task_id: uuid.UUID
    seen: set[str | int] = field(default_factory=set)  # the result keys handed to the feature (and charged)
    charged: set[str] = field(default_factory=set)  # keys an earlier owner already put in the ledger
    future: asyncio.Task[None] | None = None
    # Someone waits for what this task's results store (execute.hurry): their book-keeping starts at once.
    hurried: bool = False
    waking: asyncio.Future[None] | None = None  # set while the book-keeping waits its moment


@dataclass
class LoopState:
    """The runner's state in one event loop."""

    runs: dict[str, Run] = field(default_factory=dict)
    background: set[asyncio.Task[Any]] = field(default_factory=set)
    # The runner's writes go through one thread of their own: requests (which may be waiting on a
    # write, as a view starting a task does) keep theirs.
    database: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=1, thread_name_prefix="runware-runner-db")
    )
    writes: GroupCommit = field(init=False)
    # Admissions have a thread (a database connection) and a group commit of their own: a task a
    # member starts is admitted while the results of others are charged and their tasks ended,
    # not after them (what the member waits on before anything is sent).
    admitting: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=1, thread_name_prefix="runware-runner-admit")
    )
    admissions: GroupCommit = field(init=False)
    admit: BatchFunction = field(init=False)  # admit_and_create_many, with this loop's memory of prices
    # The one-message admission, tried first for the tasks that can take it (PostgreSQL: quick.py).
    quick: QuickAdmissions = field(init=False)
    # Both admissions: the runner's writes, and its book-keeping of results, give way to them.
    admitting_now: Together = field(init=False)
    started: bool = False

    def __post_init__(self) -> None:
        # Pipelined: on PostgreSQL, a script's task waits on two round trips before it is sent, not
        # six (admission reads rows and inserts, and counts no updated rows: lib.sql.pipelined_transaction).
        self.admissions = GroupCommit(executor=self.admitting, pipelined=True)
        prices = PriceMemory(PRICE_MEMORY_SECONDS)
        self.admit = partial(admit_and_create_many, prices=prices)
        self.quick = QuickAdmissions(prices)
        self.admitting_now = Together((self.admissions, self.quick))
        self.writes = GroupCommit(executor=self.database, yields_to=self.admitting_now)


_states: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LoopState] = weakref.WeakKeyDictionary()
_last: tuple[weakref.ref[Any], LoopState | None] = (lambda: None, None)  # the loop and state of the last call


def current() -> LoopState:
    """The running loop's state, made on first use."""
    global _last
    loop = asyncio.get_running_loop()
    last_loop, last_state = _last
    if last_loop() is loop and last_state is not None:  # nearly always: one loop per process
        return last_state
    state = _states.get(loop)
    if state is None:
        state = _states[loop] = LoopState()
    _last = (weakref.ref(loop), state)
    return state


def peek() -> LoopState | None:
    """The running loop's state, None if it has none (never made, or shut down)."""
    return _states.get(asyncio.get_running_loop())


def forget() -> LoopState | None:
    """Take the running loop's state away (for shutdown); None if the loop never had one."""
    global _last
    _last = (lambda: None, None)
    return _states.pop(asyncio.get_running_loop(), None)


async def write(write_many: BatchFunction, item: Any) -> Any:
    """Queue one write for this loop's group commit (see batching); its outcome."""
    return await current().writes(write_many, item)


def spawn(coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
    """Run `coro` in the background of this loop, in a fresh context, until shutdown cancels it."""
    background = current().background
    task = asyncio.get_running_loop().create_task(coro, context=contextvars.Context())
    background.add(task)
    task.add_done_callback(background.discard)
    return task
