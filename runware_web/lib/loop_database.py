"""An event loop's own PostgreSQL connection, for statements sent without a thread.

Django's database calls run in threads: each hands its work to a thread and its outcome back, and
on a busy worker each of those hand-offs waits its turn for the interpreter. The one message of
statements that admits a script's tasks (runner.quick) is sent from the loop itself, over this
connection (psycopg's asynchronous one; the message itself goes over its libpq connection, in
libpq's non-blocking mode): the loop goes on with other work while PostgreSQL answers.

One message at a time (its caller queues the rest); values quoted on the client, as Django's own
cursors bind them, with Django's adapters. Each statement with values is prepared the first time
the connection sends it (`PREPARE`, in the same message) and executed by name after: PostgreSQL
plans it once, not in every message, which took longer than running it. Behind a pooler that
hands each transaction another server connection (where a statement prepared on one is unknown on
the next), the statements are sent whole from then on. PostgreSQL only. A connection that failed
is closed and a new one made for the next message.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections


class LoopDatabase:
    """`await send(statements)`: the statements in one message, and each one's rows."""

    def __init__(self) -> None:
        self.raw: Any = None  # psycopg's AsyncConnection, made on first use
        self.prepared: dict[str, str] = {}  # statement → its name, on this connection
        self.prepares = True  # False once a pooler was met (see the module's doc)

    async def send(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> list[list[tuple[Any, ...]]]:
        """Send the statements, each with its values, in one simple-protocol message; each one's
        rows (none for a statement that returns none). Raises psycopg's errors: should one come,
        the connection is closed, whatever it had done (see `outcome_known`)."""
        import psycopg
        import psycopg.adapt
        import psycopg.errors
        import psycopg.pq
        import psycopg.sql

        if self.raw is None or self.raw.closed:
            database = connections[DEFAULT_DB_ALIAS]
            params = database.get_connection_params()
            params.pop("cursor_factory", None)  # Django's, for its own (synchronous) connections
            params.setdefault("connect_timeout", CONNECT_TIMEOUT_SECONDS)
            self.raw = await psycopg.AsyncConnection.connect(**params, autocommit=True)
            self.prepared = {}
            role = database.settings_dict["OPTIONS"].get("assume_role")
            if role:  # as Django's own connections take it
                await self.raw.execute(psycopg.sql.SQL("SET ROLE {}").format(psycopg.sql.Identifier(role)))
        # Each value quoted by psycopg with Django's adapters, as its client-side binding quotes
        # them, into the message; the message itself is not parsed for placeholders again (psycopg
        # would, for every message of more than 50 values).
        literal = psycopg.adapt.Transformer(self.raw).as_literal
        encoding = self.raw.info.encoding
        texts: list[bytes] = []
        preparing: dict[str, str] = {}
        rows_of: list[bool] = []
        for statement, params in statements:
            values = tuple(b"NULL" if value is None else literal(value) for value in params)
            name = self.prepared.get(statement) or preparing.get(statement)
            if params and name is None and self.prepares:
                name = preparing[statement] = f"runware_loop_{len(self.prepared) + len(preparing)}"
                texts.append(f"PREPARE {name} AS {_numbered(statement)}".encode(encoding))
                rows_of.append(False)
            if params and name:
                texts.append(f"EXECUTE {name}(".encode() + b", ".join(values) + b")")
            else:
                texts.append(statement.encode(encoding) % values)
            rows_of.append(True)
        try:
            results = await self._sent(b"; ".join(texts))
            failed = next((result for result in results if result.status == psycopg.pq.ExecStatus.FATAL_ERROR), None)
            if failed is not None:  # PostgreSQL ran none of the statements after it
                raise psycopg.errors.error_from_result(failed, encoding=encoding)
            rows = []
            transform = psycopg.adapt.Transformer(self.raw)
            for wanted, result in zip(rows_of, results, strict=True):
                if wanted:
                    transform.set_pgresult(result)
                    rows.append(transform.load_rows(0, result.ntuples, tuple) if result.ntuples else [])
        except BaseException as error:
            if getattr(error, "sqlstate", None) in POOLED:
                self.prepares = False
            await self.close()
            raise
        self.prepared.update(preparing)
        return rows

    async def _sent(self, message: bytes) -> list[Any]:
        """The message sent, and its statements' results (libpq's) once they are all in: over
        libpq's non-blocking calls (psycopg.pq), the loop told of the socket once each way, rather
        than through a cursor, whose layers cost more on the client than the rest of the message
        for a message of several results."""
        loop = asyncio.get_running_loop()
        pgconn = self.raw.pgconn
        socket = pgconn.socket
        pgconn.send_query(message)
        while pgconn.flush():  # more to send than the socket took: wait until it takes more
            await _writable(socket)
        results: list[Any] = []
        answered: asyncio.Future[list[Any]] = loop.create_future()

        def readable() -> None:
            if answered.done():
                return
            try:
                pgconn.consume_input()
                while not pgconn.is_busy():
                    result = pgconn.get_result()
                    if result is None:  # the last statement's answer is in
                        answered.set_result(results)
                        return
                    results.append(result)
            except Exception as error:  # the connection failed
                answered.set_exception(error)

        loop.add_reader(socket, readable)
        try:
            return await answered
        finally:
            loop.remove_reader(socket)

    async def close(self) -> None:
        raw, self.raw = self.raw, None
        if raw is not None and not raw.closed:
            await raw.close()


CONNECT_TIMEOUT_SECONDS = 5
#: What PostgreSQL says of a prepared statement unknown (or known already) on the connection: a
#: pooler handed the transaction another server connection.
POOLED = frozenset({"26000", "42P05"})


async def _writable(socket: int) -> None:
    """Wait until the loop says the socket takes more."""
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()
    loop.add_writer(socket, lambda: ready.done() or ready.set_result(None))
    try:
        await ready
    finally:
        loop.remove_writer(socket)


def _numbered(statement: str) -> str:
    """A statement's %s placeholders as PostgreSQL's own ($1, $2…), for PREPARE (%% is a %)."""
    count = 0

    def number(match: re.Match[str]) -> str:
        nonlocal count
        if match.group() == "%%":
            return "%"
        count += 1
        return f"${count}"

    return re.sub("%%|%s", number, statement)


def outcome_known(error: BaseException) -> bool:
    """Whether a message that raised `error` is known to have changed nothing: PostgreSQL refused
    one of its statements (then neither that one nor any after it ran, the COMMIT among them). A
    connection lost, or an error of the driver's, leaves it unknown whether the COMMIT ran."""
    import psycopg

    return isinstance(error, psycopg.Error) and error.sqlstate is not None and not isinstance(
        error, psycopg.OperationalError)
