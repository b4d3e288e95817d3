"""Fixtures shared by the whole suite.

Every test talks to a real Runware simulator over real sockets (one per test session, in its own
thread), never to Runware itself.
"""

from __future__ import annotations

import contextlib
import gc
import inspect
import threading
import traceback
import warnings
import weakref
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.conf import settings as django_settings
from django.db.backends.signals import connection_created
from django.test.utils import override_settings

from runware_web.accounts.models import Team, User

pytest_plugins = ["tests.browser"]


@pytest.fixture(scope="session", autouse=True)
def simulator():
    """The project's Runware simulator, shared by the session; tasks default to no latency."""
    from runware_web.simulator.server import run_in_thread

    sim = run_in_thread(latency=0.0, stream_chunk_delay=0.0, media_latency_scale=0.0)
    overrides = override_settings(RUNWARE_WS_URL=sim.ws_url, RUNWARE_HTTP_URL=sim.http_url)
    overrides.enable()
    yield sim
    overrides.disable()
    sim.stop()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """pytest-django's test databases, dropped at the end of the session once no connection of this
    process is left open on them (PostgreSQL refuses to drop a database in use)."""
    yield
    with django_db_blocker.unblock():
        _stray_connections_closed()


def _stray_connections_closed() -> None:
    """Close what this process leaves of its connections, and name any still in use.

    A thread that ends holding a pooled PostgreSQL connection (a runner's threads keep theirs
    between trips; any thread whose last `database_sync_to_async` did not hand it back) leaves it
    open until the thread's objects are freed; should they be in a reference cycle, not before the
    session drops the test database ("being accessed by other users"). So garbage is collected
    first. A connection still reachable after that belongs to something still running: it is
    reported (a warning in the run's summary, next to pytest-django's own) with the thread that took
    it last and where, to find it by."""
    gc.collect()
    from django.db import connections

    pools = [pool for database in connections.all() if (pool := getattr(database, "pool", None)) is not None]
    if not pools:
        return
    import psycopg

    idle = {id(pooled) for pool in pools for pooled in pool._pool}
    own = {id(database.connection) for database in connections.all() if database.connection is not None}
    # type(), not isinstance(): that would ask lazy objects (a request's CSP nonce) for their class.
    # An event loop's own connection (lib.loop_database) is an AsyncConnection: counted too.
    stray = [found for found in gc.get_objects() if issubclass(type(found), (psycopg.Connection, psycopg.AsyncConnection))
             and not found.closed and id(found) not in idle | own]
    if stray:
        threads = ", ".join(sorted(thread.name for thread in threading.enumerate()))
        held = "; ".join(f"pid {found.info.backend_pid}, last taken by {_taken.get(found, 'a thread not known')}"
                         for found in stray)
        warnings.warn(f"{len(stray)} database connection(s) still open at the end of the session: {held}; "
                      f"threads alive: {threads}", stacklevel=1)


#: Each PostgreSQL connection of this process: the thread that last took it, and where.
_taken: weakref.WeakKeyDictionary[object, str] = weakref.WeakKeyDictionary()


def _note_taken(sender: object, connection: Any, **kwargs: Any) -> None:
    """(connection_created, sent each time a thread takes a pooled connection) For the report above."""
    if connection.vendor != "postgresql":
        return
    here = [f"{frame.filename.rsplit('/', 2)[-2]}/{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno} {frame.name}"
            for frame in traceback.extract_stack(limit=40)[:-1] if "/runware_web/" in frame.filename
            or "/tests/" in frame.filename]
    with contextlib.suppress(TypeError):  # a connection that takes no weak reference is not followed
        _taken[connection.connection] = f"thread {threading.current_thread().name} at {' ← '.join(reversed(here[-4:]))}"


connection_created.connect(_note_taken)



@pytest.fixture(autouse=True)
def _simulator_defaults(simulator):
    """Each test starts with the simulator's default (zero) latency, whatever the last one set."""
    simulator.set_latency(0.0)
    from django.core.cache import cache

    cache.clear()  # model-search results, the upstream status: nothing carries over between tests
    yield


@pytest.fixture(autouse=True)
def _database_sync_to_async_closes_connections():
    """Undo what socket tests can leave behind in channels.db.

    channels.testing's communicators swap `channels.db.close_old_connections` for a no-op while they
    send or receive (`mock.patch`). Communicators awaited side by side (30 sockets racing for a
    budget) can exit their patches out of order, and the no-op then stays for the rest of the session
    (django/channels#2118). database_sync_to_async stops handing connections back, each thread that
    ends keeps its pooled PostgreSQL connection, and the pool runs dry some tests later.
    """
    yield
    import channels.db
    from django.db import close_old_connections

    channels.db.close_old_connections = close_old_connections


@pytest.fixture(autouse=True)
def _runner_stopped_after_async_tests(request: pytest.FixtureRequest) -> None:
    """An async test's runner is stopped at its end, whether or not the test asked for it (a socket's
    first task starts it): its threads go with their database connections, its Runware client and
    its downloads' session are closed, and nothing of it still writes while the database is emptied
    for the next test. Tasks still running then are cancelled, as the loop's closing would."""
    if inspect.iscoroutinefunction(getattr(request.node, "obj", None)):
        request.getfixturevalue("_runner_stopped")


@pytest.fixture
async def _runner_stopped():
    from runware_web.runner import runner

    yield
    await runner.shutdown(grace=0)


@pytest.fixture
async def upstream():
    """The process's task runner, shut down (waiting for its tasks) at the end of the test."""
    from runware_web.runner import runner

    yield runner
    await runner.shutdown(grace=15)


def make_user(username: str, *, team: Team | None = None, **extra) -> User:
    user = User.objects.create_user(username=username, password="correct horse battery", team=team, **extra)
    return user


@pytest.fixture
def team(db) -> Team:
    return Team.objects.create(name="Pixels")


@pytest.fixture
def user(db, team) -> User:
    return make_user("alice", team=team, email="alice@example.com")


@pytest.fixture
def other_user(db) -> User:
    return make_user("mallory", email="mallory@example.com")


@pytest.fixture
def staff_user(db) -> User:
    return make_user("sam", is_staff=True, is_superuser=True, email="sam@example.com")


@pytest.fixture
def alice_client(client, user):
    client.force_login(user)
    return client


async def acreate_user(username: str, **extra) -> User:
    return await database_sync_to_async(make_user)(username, **extra)


def api_key() -> str:
    return django_settings.RUNWARE_API_KEY
