"""The runner's group commit: writes that queue up go together, and a failing kind fails alone."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from channels.db import database_sync_to_async
from django.db import IntegrityError, connections

from runware_web.runner import batching, state
from runware_web.runner.batching import GroupCommit, Together
from runware_web.upstream.models import Worker

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def writes():
    executor = ThreadPoolExecutor(max_workers=1)
    yield GroupCommit(executor=executor)
    stopped(executor)


def stopped(executor: ThreadPoolExecutor) -> None:
    """Stop a database thread as the runner's shutdown does: its kept connection closed first (a
    trip keeps it from one write to the next), or it stays open after the thread has ended."""
    executor.submit(connections.close_all).result()
    executor.shutdown(wait=True)


def stored_workers() -> set[str]:
    return set(Worker.objects.values_list("id", flat=True))


class Recorder:
    """A batch function that stores Worker rows and remembers what each trip carried."""

    def __init__(self) -> None:
        self.trips: list[list[str]] = []
        self.hold = threading.Event()
        self.hold.set()
        self.started = threading.Event()

    def __call__(self, names: list[str]) -> list[str]:
        self.trips.append(list(names))
        self.started.set()
        self.hold.wait(timeout=10)
        Worker.objects.bulk_create([Worker(id=name) for name in names])
        return [f"stored {name}" for name in names]


async def queued_together(writes, record: Recorder, write_many, items: list[str]) -> list[asyncio.Future]:
    """Queue `items` while `record` holds a trip of its own ("first") in flight: they go together in
    the next trip. Returns the first write's future, then the items'."""
    record.hold.clear()
    first = asyncio.ensure_future(writes(record, "first"))
    await asyncio.get_running_loop().run_in_executor(None, record.started.wait, 10)
    later = [asyncio.ensure_future(writes(write_many, item)) for item in items]
    record.hold.set()
    return [first, *later]


async def test_writes_queued_while_a_trip_is_in_flight_all_go_in_the_next_one(writes):
    record = Recorder()
    first, *later = await queued_together(writes, record, record, [f"later-{i}" for i in range(5)])

    assert await first == "stored first"
    assert await asyncio.gather(*later) == [f"stored later-{i}" for i in range(5)]
    assert record.trips == [["first"], [f"later-{i}" for i in range(5)]]
    assert await database_sync_to_async(stored_workers)() == {"first", *(f"later-{i}" for i in range(5))}


def refuse(names: list[str]) -> list[str]:
    Worker.objects.bulk_create([Worker(id=name) for name in names])
    raise IntegrityError("the database said no")


def refuse_one(names: list[str]) -> list[object]:
    return [ValueError(f"not {name}") if name == "bad" else name for name in names]


async def test_a_kind_that_fails_fails_only_its_own_callers(writes):
    record = Recorder()
    outcomes = await asyncio.gather(
        writes(record, "kept"), writes(refuse, "rolled-back"), writes(record, "kept-too"),
        return_exceptions=True,
    )

    assert outcomes[0] == "stored kept" and outcomes[2] == "stored kept-too"
    assert isinstance(outcomes[1], IntegrityError)
    assert await database_sync_to_async(stored_workers)() == {"kept", "kept-too"}


async def test_an_exception_returned_as_an_outcome_is_raised_to_that_caller_only(writes):
    good, bad = await asyncio.gather(writes(refuse_one, "good"), writes(refuse_one, "bad"), return_exceptions=True)
    assert good == "good"
    assert isinstance(bad, ValueError) and str(bad) == "not bad"


def refuse_bad(names: list[str]) -> list[str]:
    """Stores every name in one statement, which the database refuses if one of them is "bad"."""
    Worker.objects.bulk_create([Worker(id=name) for name in names])
    if "bad" in names:
        raise IntegrityError("the database said no to bad")
    return [f"stored {name}" for name in names]


async def test_a_write_the_database_refuses_fails_only_its_own_caller_within_its_kind(writes):
    first, *later = await queued_together(writes, Recorder(), refuse_bad, ["good", "bad", "fine"])
    await first

    good, bad, fine = await asyncio.gather(*later, return_exceptions=True)
    assert (good, fine) == ("stored good", "stored fine")
    assert isinstance(bad, IntegrityError)
    assert await database_sync_to_async(stored_workers)() == {"first", "good", "fine"}


async def test_the_runners_writes_wait_for_an_admission_in_flight_before_their_trip(monkeypatch):
    """A member's task waits on its admission before anything is sent: the book-keeping of results
    (charges, ends) gives way to it, so that the two do not take the database and the interpreter
    from each other. They wait for that one trip, not for ever."""
    monkeypatch.setattr(batching, "YIELD_SECONDS", 30.0)  # as long as this admission takes, here
    admitting, database = ThreadPoolExecutor(max_workers=1), ThreadPoolExecutor(max_workers=1)
    admissions = GroupCommit(executor=admitting)
    writes = GroupCommit(executor=database, yields_to=admissions)
    admission, charges = Recorder(), Recorder()
    try:
        admission.hold.clear()
        admitted = asyncio.ensure_future(admissions(admission, "admission"))
        await asyncio.get_running_loop().run_in_executor(None, admission.started.wait, 10)
        charged = asyncio.ensure_future(writes(charges, "charge"))
        waited = await asyncio.wait({charged}, timeout=0.3)
        assert charged in waited[1] and not charges.trips, "a charge was written during the admission"
        admission.hold.set()
        assert await admitted == "stored admission"
        assert await charged == "stored charge"

        monkeypatch.setattr(batching, "YIELD_SECONDS", 0.05)  # as the runner has it
        admission.hold.clear()  # an admission that never ends holds the writes up only so long
        admission.started.clear()
        stuck = asyncio.ensure_future(admissions(admission, "stuck"))
        await asyncio.get_running_loop().run_in_executor(None, admission.started.wait, 10)
        await asyncio.wait_for(admissions.quiet(), timeout=5)  # what the writes wait on, at most
        assert not stuck.done()
        admission.hold.set()
        await stuck
    finally:
        admission.hold.set()
        stopped(admitting)
        stopped(database)


async def test_the_runners_writes_give_way_to_the_one_message_admission_too(upstream, monkeypatch):
    """A script's task may be in the one-message admission (runner.quick) rather than the full one's
    trip: the runner's writes wait for that message all the same."""
    monkeypatch.setattr(batching, "YIELD_SECONDS", 30.0)
    runner = state.current()
    charges = Recorder()
    answered = asyncio.Event()
    runner.quick.writer = asyncio.ensure_future(answered.wait())  # a message out, its answer not in yet
    try:
        charged = asyncio.ensure_future(runner.writes(charges, "charge"))
        waited = await asyncio.wait({charged}, timeout=0.3)
        assert charged in waited[1] and not charges.trips, "a charge was written while the message was out"
        answered.set()
        await runner.quick.writer
        runner.quick.writer = None  # as its writer leaves it
        assert await charged == "stored charge"
    finally:
        answered.set()
        runner.quick.writer = None


async def test_several_kinds_in_flight_are_waited_for_together_within_one_bound():
    """What the runner's writes give way to is busy while either admission is, and waited for no
    longer than the bound, whichever is stuck."""
    first, second = (
        GroupCommit(executor=ThreadPoolExecutor(max_workers=1)),
        GroupCommit(executor=ThreadPoolExecutor(max_workers=1)),
    )
    together = Together((first, second))
    assert not together.busy()
    stuck = asyncio.Event()
    second.writer = asyncio.ensure_future(stuck.wait())
    try:
        assert together.busy()
        await asyncio.wait_for(together.quiet(0.05), timeout=5)  # the bound, though one never ends
        assert not second.writer.done()
    finally:
        stuck.set()
        await second.writer
        second.writer = None
    assert not together.busy()
    for kind in (first, second):
        kind.executor.shutdown(wait=True)


async def test_a_lone_write_reaches_the_database_thread_without_waiting_for_a_turn_of_the_loop(writes):
    """What a member waits on before their task is sent (its admission) goes to the thread as it is
    queued: the loop is busy with other sockets' frames, and each turn of it is time added."""
    record = Recorder()
    write = asyncio.ensure_future(writes(record, "admitted"))
    await asyncio.sleep(0)  # the caller runs up to its wait
    # The loop is held here (as a busy one would be): the trip must already be in the thread.
    assert record.started.wait(timeout=5)
    assert await write == "stored admitted"


async def test_a_caller_that_stops_waiting_has_its_write_stored_all_the_same(writes):
    record = Recorder()
    first, given_up, kept = await queued_together(writes, record, record, ["given-up", "kept"])
    await asyncio.sleep(0)  # both are queued (their callers wait), then one caller gives up
    given_up.cancel()

    assert await first == "stored first" and await kept == "stored kept"
    with pytest.raises(asyncio.CancelledError):
        await given_up
    assert await database_sync_to_async(stored_workers)() == {"first", "given-up", "kept"}
