"""Keyset pagination by (created_at, id), newest first: a later page costs what the first one does.

OFFSET would make page 200 read the 9,600 rows before it; a cursor (the last row's created_at and
id) lets the database start right after it, whatever the size of the table.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import Q, QuerySet

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Cursor:
    created_at: datetime
    id: uuid.UUID

    def __str__(self) -> str:
        micros = (self.created_at - _EPOCH) // timedelta(microseconds=1)
        return f"{micros}.{self.id.hex}"

    @classmethod
    def parse(cls, text: str | None) -> Cursor | None:
        """The cursor in a URL, or None when there is none or it is not one of ours."""
        if not text:
            return None
        micros, _, hex_id = text.partition(".")
        try:
            return cls(_EPOCH + timedelta(microseconds=int(micros)), uuid.UUID(hex=hex_id))
        except (ValueError, OverflowError):
            return None

    @classmethod
    def after(cls, row: Any) -> Cursor:
        return cls(row.created_at, row.pk)


@dataclass(frozen=True)
class Page:
    items: list[Any]
    next_cursor: Cursor | None

    @property
    def has_next(self) -> bool:
        return self.next_cursor is not None


def keyset_page(queryset: QuerySet, cursor: Cursor | None, size: int) -> Page:
    """One page of `queryset` (newest first) starting after `cursor`, in one query."""
    queryset = queryset.order_by("-created_at", "-id")
    if cursor is not None:
        # `created_at <= c` bounds the index range; the OR only breaks ties within it.
        queryset = queryset.filter(
            Q(created_at__lte=cursor.created_at) & (Q(created_at__lt=cursor.created_at) | Q(id__lt=cursor.id))
        )
    rows = list(queryset[: size + 1])
    if len(rows) > size:
        rows = rows[:size]
        return Page(rows, Cursor.after(rows[-1]))
    return Page(rows, None)
