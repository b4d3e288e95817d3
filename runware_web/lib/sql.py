"""For the few statements written by hand: those that run for every task or output (locking
members, the rate limit's count, ledger rows, result counts, task ends), where compiling them
through the ORM cost more than running them (docs/architecture.md). Names come from the models'
metadata, quoted for the database in use; values are prepared by the fields themselves. Each
statement lives behind a model or queryset method of the app whose table it writes.
"""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.models import Model


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
