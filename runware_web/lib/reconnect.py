"""Database connections that PostgreSQL drops: never handed out dead, and written on again.

PostgreSQL may end any connection at any time: a failover, a restart, an idle-connection reaper,
an operator's `pg_terminate_backend`. Django hands every request and every `database_sync_to_async`
call a checked connection (CONN_HEALTH_CHECKS, settings), so a connection that died while idle is
never used; with the pool, `sweep_on_dead_connection` has the first dead one found get every idle
one checked at once. `reconnecting` covers the connection that dies while in use. The runner wraps
its writes in it (runner.batching, runner.deliver, runner.workers): a charge, an image or a task's
end that met a dropped connection is written on a new one instead of being lost.

Only for functions that may run twice: one that rolls back as a whole when the connection drops (a
transaction of its own), or that does the same thing when run again (an insert that skips what is
there, an update to fixed values, a read).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import time
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from django.db import Error, InterfaceError, OperationalError, close_old_connections, connection, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from psycopg_pool import ConnectionPool

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

# PostgreSQL's SQLSTATEs of a connection ended by the server: class 08 (connection exception) and
# admin_shutdown, crash_shutdown, cannot_connect_now.
_SERVER_ENDED = ("57P01", "57P02", "57P03")


def connection_lost(exc: BaseException) -> bool:
    """Whether `exc` says the database connection went away, rather than the statement being refused.

    Decided from the exception alone, so the event loop can ask it of an error from a database thread.
    SQLite's errors (a locked database, a full disk) are never a lost connection."""
    if isinstance(exc, InterfaceError):
        return True  # Django's "connection already closed"
    if not isinstance(exc, OperationalError) or not hasattr(exc.__cause__, "sqlstate"):
        return False
    state = exc.__cause__.sqlstate  # None: psycopg's own, e.g. "the connection is closed"
    return state is None or state.startswith("08") or state in _SERVER_ENDED


def reconnecting(function: Callable[P, T]) -> Callable[P, T]:
    """`function`, run once more on a new connection should the database connection be lost under it.

    Call it outside any transaction (in a database thread, as `database_sync_to_async` runs it): inside
    one, the transaction is gone with the connection, and the error goes to whoever opened it."""

    @functools.wraps(function)
    def run(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return function(*args, **kwargs)
        except (OperationalError, InterfaceError) as exc:
            if connection.in_atomic_block or not connection_lost(exc):
                raise
            log.warning("The database connection was lost (%s); running %s again on a new one.",
                        str(exc).strip(), getattr(function, "__qualname__", function))
        with contextlib.suppress(Error):
            connection.close()  # the dead one goes (a pool discards it); the next statement connects
        return function(*args, **kwargs)

    return run


def sweep_on_dead_connection(*, connection: BaseDatabaseWrapper, **_: Any) -> None:
    """(connection_created) Have the connection pool, should its check (CONN_HEALTH_CHECKS) find a
    connection dead, check every idle one at once.

    psycopg_pool checks the connection it is about to hand out, and after each dead one waits 1, 2,
    4… seconds before the next try: once PostgreSQL has dropped them all, twenty idle connections
    would outlast its 30 s timeout, and the page would fail. Swept at once, the next try (after one
    second) gets a new connection. The pool takes its check when Django makes it, so it is wrapped
    here, on the pool's first connection (psycopg_pool offers no other way in)."""
    pool = getattr(connection, "pool", None)
    if isinstance(pool, ConnectionPool) and pool._check is ConnectionPool.check_connection:
        pool._check = functools.partial(_check_or_sweep, pool)


def _check_or_sweep(pool: ConnectionPool, pooled: Any) -> None:
    try:
        ConnectionPool.check_connection(pooled)
    except Exception:
        log.warning("A pooled database connection was dropped by the server; checking every idle one now.")
        pool.check()
        raise


#: How long a thread of the runner's own keeps a pooled connection from one trip to the next.
KEPT_SECONDS = 60.0


def keep_or_renew() -> None:
    """For a long-lived thread that writes often (the runner's): keep its pooled connection from one
    write to the next, instead of fetching one from the pool, checked, for each.

    Django hands a pooled connection back after every use (CONN_MAX_AGE is 0 with the pool) and the
    pool checks it again before handing it out: one more round trip to PostgreSQL and two thread
    hand-offs for each of the runner's small transactions, a third of an admission's time. Here the
    connection stays with the thread, and goes back to the pool (which renews and checks it) when
    an error has left it unusable, its autocommit was not restored, or it is KEPT_SECONDS old. One
    that PostgreSQL dropped in between is met by the next write, which `reconnecting` runs again on
    a new one. Without the pool, Django's own rules apply (close_old_connections)."""
    if getattr(connection, "pool", None) is None:
        close_old_connections()
        return
    for database in connections.all(initialized_only=True):
        if database.connection is None:
            continue
        if database.get_autocommit() != database.settings_dict["AUTOCOMMIT"] or (
            database.errors_occurred and not database.is_usable()
        ) or (database.close_at is not None and time.monotonic() >= database.close_at + KEPT_SECONDS):
            database.close()
        else:
            database.errors_occurred = False
