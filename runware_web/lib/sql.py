"""For the few statements written by hand: those that run for every task or output (locking
members, reading a key, the rate limit's count, the admission's rows, ledger rows, result counts,
task ends), where compiling them through the ORM cost more than running them
(docs/architecture.md). Names come from the models' metadata, quoted for the database in use;
values are prepared, and read values converted, by the fields themselves. Each statement lives
behind a model or queryset method of the app whose table it reads or writes, or is the plain
insert of new rows (`insert`) that bulk_create would write.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.models import AutoField, Model


def table(model: type[Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def column(model: type[Model], field: str = "pk") -> str:
    """A field's column, quoted ("pk": the primary key's)."""
    meta = model._meta
    return connection.ops.quote_name((meta.pk if field == "pk" else meta.get_field(field)).column)


def placeholders(count: int) -> str:
    return ", ".join(["%s"] * count)


def value(model: type[Model], field: str, python_value: Any) -> Any:
    """A value for a field's column, as the ORM would write it."""
    meta = model._meta
    return (meta.pk if field == "pk" else meta.get_field(field)).get_db_prep_save(python_value, connection)


def insert(rows: Sequence[Model]) -> None:
    """Write new rows of one model, whose primary keys they already hold, in one INSERT: as
    bulk_create writes them (each field prepares its own value), without compiling the query.

    For the rows of every task's admission (runner.admit, endpoint.services), where compiling
    the inserts took longer than running them. No signals are sent, as with bulk_create."""
    if not rows:
        return
    model = type(rows[0])
    if isinstance(model._meta.pk, AutoField):
        raise TypeError(f"{model._meta.label} numbers its own rows: use bulk_create")
    database = connections[DEFAULT_DB_ALIAS]  # the thread's own, looked up once: `connection` looks it up on each use
    fields = model._meta.concrete_fields
    key = ("insert", model, database.vendor)
    if key not in _STATEMENTS:
        columns = ", ".join(database.ops.quote_name(field.column) for field in fields)
        _STATEMENTS[key] = f"INSERT INTO {database.ops.quote_name(model._meta.db_table)} ({columns}) VALUES "
    one = f"({placeholders(len(fields))})"
    batch = max(1, database.ops.bulk_batch_size(fields, rows))  # within the database's parameter limit
    with database.cursor() as cursor:
        for start in range(0, len(rows), batch):
            part = rows[start:start + batch]
            params = [field.get_db_prep_save(field.pre_save(row, True), database) for row in part for field in fields]
            cursor.execute(_STATEMENTS[key] + ", ".join([one] * len(part)), params)
    for row in rows:
        row._state.adding, row._state.db = False, database.alias


def read_one(model: type[Model], statement: Callable[[str], str], params: list[Any]) -> Model | None:
    """The first row a hand-written SELECT finds, as a `model` instance (None: no row).

    `statement(columns)` is the statement, given the model's columns (of table alias "t") to select
    first: built once per database, and its values converted as the ORM's own reads convert them."""
    return send_read(model, statement, params)()


def send_read(model: type[Model], statement: Callable[[str], str], params: list[Any]) -> Callable[[], Model | None]:
    """`read_one`, sent now and read when the returned function is called: inside
    `pipelined_transaction`, the statement goes with the next one whose rows are read, instead of a
    round trip of its own. Elsewhere it is read at once (a SQLite statement left unread would hold
    its read lock)."""
    database = connections[DEFAULT_DB_ALIAS]
    key = ("read", model, statement, database.vendor)
    if key not in _STATEMENTS:
        fields = model._meta.concrete_fields
        _STATEMENTS[key] = statement(", ".join(f"t.{database.ops.quote_name(field.column)}" for field in fields))
        _CONVERTERS[key] = [
            (field, database.ops.get_db_converters(field.cached_col) + field.get_db_converters(database))
            for field in fields
        ]

    def instance(found: tuple[Any, ...] | None) -> Model | None:
        if found is None:
            return None
        values = []
        for (field, converters), value in zip(_CONVERTERS[key], found, strict=True):
            for converter in converters:
                value = converter(value, field.cached_col, database)
            values.append(value)
        return model.from_db(database.alias, [field.attname for field, _ in _CONVERTERS[key]], values)

    return _sent(database, _STATEMENTS[key], params, instance)


def send_count(statement: str, params: list[Any]) -> Callable[[], int]:
    """The number a hand-written `SELECT COUNT(*) …` finds, sent now and read when the returned
    function is called (as `send_read`)."""
    return _sent(connections[DEFAULT_DB_ALIAS], statement, params, lambda found: int(found[0]) if found else 0)


def _sent(database: Any, statement: str, params: list[Any], read: Callable[[tuple[Any, ...] | None], Any]) -> Callable[[], Any]:
    """Send a statement; a function giving `read(its first row)`, read then (pipelined) or now."""
    cursor = database.cursor()
    try:
        cursor.execute(statement, params)
    except BaseException:
        cursor.close()
        raise

    def row() -> Any:
        with cursor:
            return read(cursor.fetchone())

    if getattr(_pipelining, "database", None) is database:
        return row
    found = row()
    return lambda: found


@contextlib.contextmanager
def pipelined_transaction() -> Iterator[None]:
    """`transaction.atomic()`, whose statements go in PostgreSQL's pipeline mode: one that returns
    nothing (an insert), or whose rows are read later (`send_read`), is sent without waiting for its
    answer, which comes with the next statement whose rows are read. BEGIN goes with the first of
    those, and COMMIT with the last statements: a transaction that reads once waits on two round
    trips instead of one per statement, BEGIN and COMMIT. Elsewhere, a plain `transaction.atomic()`.

    Only for statements whose outcome nobody reads but from rows: an UPDATE's count of rows (as
    `Model.save` reads it) is not known until the block ends. A statement's error may come with a
    later one's, or as the block ends, as Django's exception (IntegrityError and the like); the
    transaction is then rolled back, as `atomic` rolls back.

    psycopg would send BEGIN alone and wait for it (it must know the transaction began before it
    sends the next statement), and Django sends COMMIT alone as `atomic` ends: here, once `atomic`
    has begun its transaction (nothing is sent yet), psycopg is told to add no BEGIN of its own, and
    BEGIN and COMMIT are sent as statements of the pipeline. `atomic`'s own commit then finds the
    transaction committed and sends nothing; should the block raise, its rollback sends ROLLBACK.
    """
    database = connections[DEFAULT_DB_ALIAS]
    if database.vendor != "postgresql" or database.in_atomic_block:  # inside a transaction: a savepoint
        with transaction.atomic():
            yield
        return
    with transaction.atomic():
        raw = database.connection
        own_begin = raw.isolation_level is None and raw.read_only is None and raw.deferrable is None
        if own_begin:
            raw.autocommit = True  # no statement sent yet: psycopg sends nothing to change it
        outer = getattr(_pipelining, "database", None)
        _pipelining.database = database
        try:
            with database.wrap_database_errors, raw.pipeline():
                if own_begin:
                    raw.execute("BEGIN")
                yield
                if own_begin:
                    raw.execute("COMMIT")
        finally:
            _pipelining.database = outer


_pipelining = threading.local()  # .database: the connection in `pipelined_transaction` in this thread, if any


#: Statements built once per database (and, for reads, each column's converters): by kind, model and vendor.
_STATEMENTS: dict[tuple[Any, ...], str] = {}
_CONVERTERS: dict[tuple[Any, ...], list[tuple[Any, list[Callable[..., Any]]]]] = {}


def exact_sum(column: str, decimal_places: int) -> str:
    """The exact total of a quoted decimal column, as the column's own type (zero for no rows).

    PostgreSQL sums numerics exactly. SQLite keeps decimals as REAL: each amount, scaled by its
    decimal places, rounds to an exact integer, SQLite sums integers exactly, and the sum is
    scaled back as a REAL, which is how SQLite stores every amount (see money.reports.exact_sum,
    the ORM's version of this)."""
    if connection.vendor == "postgresql":
        return f"COALESCE(SUM({column}), 0)"
    scale = 10**decimal_places
    return f"COALESCE(SUM(CAST(ROUND({column} * {scale}) AS INTEGER)), 0) / {scale}.0"
