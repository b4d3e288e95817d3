"""A write whose database connection PostgreSQL drops under it is written once more on a new one
(lib.reconnect), and nothing else is run twice: not a refused statement, not a write inside a
transaction, not SQLite's "database is locked". The runner's group commit relies on it, so that a
charge that met a dropped connection is in the ledger once.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.db import Error, IntegrityError, OperationalError, connection, connections, transaction

from runware_web.accounts.models import User
from runware_web.lib import reconnect
from runware_web.lib.reconnect import connection_lost, reconnecting
from runware_web.money.ledger import record_charges
from runware_web.money.models import Charge
from runware_web.runner.batching import _trip_in_thread, _write_trip
from runware_web.upstream.models import Task
from tests.conftest import make_user

on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="PostgreSQL ends connections (pg_terminate_backend); a SQLite database has none to drop",
)


def backend_of_thread() -> int | None:
    """The PostgreSQL backend of the calling thread's connection; None when it holds none."""
    return connection.connection.info.backend_pid if connection.connection is not None else None


def terminate(pid: int) -> None:
    """PostgreSQL ends the backend `pid`, from another connection to this run's test database."""
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
            assert cursor.fetchone()[0]
    finally:
        other.close()


@pytest.fixture
def drop_connection(transactional_db):
    """PostgreSQL ends the connection this thread holds (and uses again without a check), from
    another connection to this run's test database. Whatever a failing test leaves is closed."""

    def drop() -> None:
        connection.ensure_connection()
        terminate(backend_of_thread())

    yield drop
    with contextlib.suppress(Error):
        connection.close()


def counted(function):
    """`function`, counting its calls in `.calls`."""
    def run(*args, **kwargs):
        run.calls += 1
        return function(*args, **kwargs)
    run.calls = 0
    return run


@on_postgresql
def test_a_write_whose_connection_was_dropped_is_written_once_more_on_a_new_one(drop_connection):
    write = counted(lambda: make_user("alice").pk)
    drop_connection()

    user_id = reconnecting(write)()

    assert write.calls == 2
    assert User.objects.filter(pk=user_id, username="alice").exists()


@on_postgresql
def test_a_charge_whose_connection_was_dropped_is_in_the_ledger_once(drop_connection):
    user = make_user("alice")
    task = Task.objects.create(user=user, feature="studio", task_type="imageInference", params={},
                               status=Task.Status.RUNNING)
    drop_connection()

    outcomes = _write_trip([(record_charges, (task, "image-1", Decimal("0.0013")))])

    assert outcomes == [True]
    assert list(Charge.objects.filter(task=task).values_list("result_key", "amount")) == [
        ("image-1", Decimal("0.0013"))]
    task.refresh_from_db()
    assert (task.results_received, task.cost) == (1, Decimal("0.0013"))


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_a_runner_thread_keeps_its_connection_between_trips_and_one_dropped_meanwhile_costs_no_charge(monkeypatch):
    """The runner's threads keep their pooled connection from one trip to the next (no trip to the
    pool and its check for each), hand it back once it is old, and a kept one PostgreSQL ended
    while it sat idle is replaced by the trip that meets it: nothing is lost."""
    if connection.pool is None:
        pytest.skip("DATABASE_POOL is off: Django's own CONN_MAX_AGE applies")
    user = make_user("alice")
    task = Task.objects.create(user=user, feature="studio", task_type="imageInference", params={},
                               status=Task.Status.RUNNING)
    runner_thread = ThreadPoolExecutor(max_workers=1)

    def trip(key: str) -> int | None:
        outcomes = _trip_in_thread([(record_charges, (task, key, Decimal("0.0010")))])
        assert outcomes == [True]
        return backend_of_thread()

    try:
        first = runner_thread.submit(trip, "image-1").result()
        assert first is not None
        assert runner_thread.submit(trip, "image-2").result() == first  # kept, not handed back

        terminate(first)  # while the runner's connection sits idle
        replaced = runner_thread.submit(trip, "image-3").result()
        assert replaced not in (None, first)

        monkeypatch.setattr(reconnect, "KEPT_SECONDS", 0.0)
        assert runner_thread.submit(trip, "image-4").result() is None  # old: back to the pool after the trip
    finally:
        runner_thread.submit(connections.close_all).result()
        runner_thread.shutdown()

    assert sorted(Charge.objects.filter(task=task).values_list("result_key", flat=True)) == [
        "image-1", "image-2", "image-3", "image-4"]
    task.refresh_from_db()
    assert (task.results_received, task.cost) == (4, Decimal("0.0040"))


@on_postgresql
def test_inside_a_transaction_a_dropped_connection_goes_to_whoever_opened_it(drop_connection):
    write = counted(lambda: make_user("alice"))
    drop_connection()

    with pytest.raises(OperationalError), transaction.atomic():
        reconnecting(write)()

    assert write.calls == 1  # the transaction went with the connection: running on would lose its start


@pytest.mark.django_db(transaction=True)
def test_a_refused_write_is_not_run_again():
    make_user("alice")
    write = counted(lambda: make_user("alice"))

    with pytest.raises(IntegrityError):
        reconnecting(write)()

    assert write.calls == 1


def test_a_locked_sqlite_database_is_not_a_lost_connection():
    try:
        try:
            raise sqlite3.OperationalError("database is locked")
        except sqlite3.Error as cause:
            raise OperationalError("database is locked") from cause
    except OperationalError as locked:
        assert not connection_lost(locked)


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_once_postgresql_dropped_every_idle_pooled_connection_the_first_dead_one_found_clears_them_all(caplog):
    """psycopg_pool waits 1, 2, 4… s after each dead connection it was about to hand out: a request
    after the drop waits for one of them, not for each (twenty would outlast its 30 s timeout)."""
    pool = connection.pool
    if pool is None:
        pytest.skip("DATABASE_POOL is off: no pool to sweep")
    connection.ensure_connection()  # the pool's first connection: its check now sweeps
    # Every idle connection of the pool (at least two): those are what it will hand out next.
    idle = [pool.getconn(timeout=10) for _ in range(max(pool.get_stats()["pool_available"], 2))]
    pids = [pooled.info.backend_pid for pooled in idle]
    for pooled in idle:
        pool.putconn(pooled)
    with connection.cursor() as cursor:  # those idle ones only: other threads' connections serve other tests
        cursor.execute("SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
                       "WHERE datname = current_database() AND pid = ANY(%s)", [pids])
        assert cursor.fetchone()[0] == len(idle)

    with caplog.at_level(logging.INFO, logger="psycopg.pool"):
        fresh = pool.getconn()
    try:
        fresh.execute("SELECT 1")
    finally:
        pool.putconn(fresh)

    handed_dead = [record for record in caplog.records if "failed check" in record.getMessage()]
    assert len(handed_dead) == 1
