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


def built(key: tuple[Any, ...], build: Callable[[], str]) -> str:
    """A hand-written statement built once per database: `build()` the first time `key` is asked
    for on the database in use, the same text after (for statements that run for every task)."""
    key = (*key, connection.vendor)
    if key not in _STATEMENTS:
        _STATEMENTS[key] = build()
    return _STATEMENTS[key]


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
    size = max(1, database.ops.bulk_batch_size(fields, rows))  # within the database's parameter limit
    batch = _batch(database)
    for start in range(0, len(rows), size):
        part = rows[start:start + size]
        params = [field.get_db_prep_save(field.pre_save(row, True), database) for row in part for field in fields]
        statement = _STATEMENTS[key] + ", ".join([one] * len(part))
        if batch is not None:
            batch.add(statement, params, None)
        else:
            with database.cursor() as cursor:
                cursor.execute(statement, params)
    for row in rows:
        row._state.adding, row._state.db = False, database.alias


def insert_select(row: Model, *, where: str = "", where_params: Sequence[Any] = (), source: str = "",
                  computed: dict[str, tuple[str, list[Any]]] | None = None) -> tuple[str, list[Any]]:
    """A new row's INSERT, as `insert` writes it, but as `INSERT … SELECT`: written only if `where`
    holds (a condition on the database as the statement finds it, its own values `where_params`), or
    once for each row of `source` (a name the statement's WITH gives, "FROM source"). `computed`:
    columns the database fills, by field name, each an expression and its values. The statement
    (built once for each model and shape) and its values; nothing is sent (for a message of
    statements, see lib.loop_database)."""
    model = type(row)
    database = connections[DEFAULT_DB_ALIAS]
    computed = computed or {}
    key = ("insert select", model, tuple((name, expression) for name, (expression, _) in computed.items()),
           where, source, database.vendor)
    if key not in _STATEMENTS:
        fields = model._meta.concrete_fields
        columns = ", ".join(database.ops.quote_name(field.column) for field in fields)
        values = ", ".join(computed[field.name][0] if field.name in computed else "%s" for field in fields)
        _STATEMENTS[key] = (f"INSERT INTO {database.ops.quote_name(model._meta.db_table)} ({columns}) SELECT {values}"
                            + (f" FROM {source}" if source else "") + (f" WHERE {where}" if where else ""))
    params: list[Any] = []
    for field in model._meta.concrete_fields:
        if field.name in computed:
            params.extend(computed[field.name][1])
        else:
            params.append(field.get_db_prep_save(field.pre_save(row, True), database))
    params.extend(where_params)
    return _STATEMENTS[key], params


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


def send_rows(statement: str, params: list[Any]) -> Callable[[], list[tuple[Any, ...]]]:
    """The rows a hand-written SELECT finds, sent now and read when the returned function is called
    (as `send_read`)."""
    return _sent(connections[DEFAULT_DB_ALIAS], statement, params, list, every=True)


def _sent(database: Any, statement: str, params: list[Any], read: Callable[[Any], Any], *,
          every: bool = False) -> Callable[[], Any]:
    """Send a statement; a function giving `read(its first row)` (`every`: `read(its rows)`), read
    then (in a pipelined transaction) or now."""
    batch = _batch(database)
    if batch is not None:
        return batch.add(statement, params, read, every=every)
    with database.cursor() as cursor:
        cursor.execute(statement, params)
        found = read(cursor.fetchall() if every else cursor.fetchone())
    return lambda: found


@contextlib.contextmanager
def pipelined_transaction() -> Iterator[None]:
    """`transaction.atomic()`, whose statements go to PostgreSQL together: one that returns nothing
    (an insert), or whose rows are read later (`send_read`, `send_count`, `send_rows`), is not sent
    at once but with the next statement whose rows are read, in one message; BEGIN goes with the
    first of them, and COMMIT with the last. A transaction that reads once waits on two round trips
    instead of one per statement, BEGIN and COMMIT; and its thread lets go of the interpreter's lock
    twice, not once a statement (each time, in a busy process, it may wait long to take it back).
    Elsewhere (SQLite, or inside a transaction already), a plain `transaction.atomic()`.

    Only for statements whose outcome nobody reads but from rows: an UPDATE's count of rows (as
    `Model.save` reads it) is not known until the block ends. Any other statement of the block (the
    ORM's) sends those waiting before it, in order. A statement's error may come with a later
    one's, or as the block ends, as Django's exception (IntegrityError and the like); the
    transaction is then rolled back, as `atomic` rolls back, and the statements not sent are dropped.

    The statements go in one simple-protocol message, their values inlined and quoted by psycopg's
    client-side binding (Django's own cursors bind on the client too). psycopg would send BEGIN
    alone and wait for it, and Django sends COMMIT alone as `atomic` ends: here, once `atomic` has
    begun its transaction (nothing is sent yet), psycopg is told to add no BEGIN of its own. `atomic`'s
    own commit then finds the transaction committed and sends nothing; should the block raise, its
    rollback sends ROLLBACK.
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
        batch = _Batch(database, begin=own_begin)
        outer = getattr(_batching, "batch", None)
        _batching.batch = batch
        try:
            with database.execute_wrapper(batch.before_others):
                yield
            batch.send(commit=own_begin)
        finally:
            batch.queued.clear()  # not sent: the block raised, and the transaction is rolled back
            _batching.batch = outer


class _Batch:
    """The statements of a pipelined transaction not sent yet, each with where its rows go."""

    def __init__(self, database: Any, *, begin: bool) -> None:
        self.database = database
        self.begin = begin  # BEGIN still to send (and COMMIT, once something was)
        self.began = False
        # Each statement, its values, where its rows go and whether all of them (`every`) or the first.
        self.queued: list[tuple[str, Sequence[Any], Callable[[Any], None] | None, bool]] = []
        self.cursor: Any = None

    def add(self, statement: str, params: Sequence[Any], read: Callable[[Any], Any] | None,
            *, every: bool = False) -> Callable[[], Any]:
        """Queue a statement; a function giving `read(its first row)` (`every`: its rows), sending
        what is queued when it is first called."""
        found: list[Any] = []
        keep = None if read is None else lambda rows: found.append(read(rows))
        self.queued.append((statement, params, keep, every))

        def result() -> Any:
            if not found:
                self.send()
            return found[0]

        return result

    def before_others(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        """Django's execute wrapper: another statement of the block sends those queued first."""
        self.send()
        return execute(sql, params, many, context)

    def send(self, *, commit: bool = False) -> None:
        """Send the queued statements (with BEGIN, if it is still to send; and COMMIT) in one message,
        and hand each its rows."""
        queued, self.queued = self.queued, []
        if self.begin and not self.began:
            if not queued and commit:
                return  # nothing was ever sent: no transaction to begin or end
            queued.insert(0, ("BEGIN", (), None, False))
            self.began = True
        if commit and self.began:
            queued.append(("COMMIT", (), None, False))
        if not queued:
            return
        if self.cursor is None:
            self.cursor = self.database.connection.cursor()  # psycopg's, binding on the client (Django's factory)
        # One message: its statements' values bound in one pass (each statement's placeholders are
        # %s, and a literal % is written %%, as for any of Django's cursors).
        message = self.cursor.mogrify("; ".join(statement for statement, *_ in queued),
                                      [value for _, params, *_ in queued for value in params])
        with self.database.wrap_database_errors:
            self.cursor.execute(message)
            for _, _, keep, every in queued:
                if keep is not None:
                    keep(self.cursor.fetchall() if every else self.cursor.fetchone())
                self.cursor.nextset()


def _batch(database: Any) -> _Batch | None:
    batch = getattr(_batching, "batch", None)
    return batch if batch is not None and batch.database is database else None


_batching = threading.local()  # .batch: the statements of the `pipelined_transaction` under way in this thread


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
