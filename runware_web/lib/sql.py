"""For the few statements written by hand: those that run for every task or output (locking
members, the rate limit's count, ledger rows, result counts, task ends), where compiling them
through the ORM cost more than running them (docs/architecture.md). Names come from the models'
metadata, quoted for the database in use; values are prepared by the fields themselves.
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
