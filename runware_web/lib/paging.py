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
    #: Set when the page stopped at the edge of its search window rather than at a full page: the
    #: rows older than this were not looked at yet (the next page continues from there).
    searched_to: datetime | None = None

    @property
    def has_next(self) -> bool:
        return self.next_cursor is not None


WINDOW = 5000


def keyset_page(
    queryset: QuerySet, cursor: Cursor | None, size: int, *, window: QuerySet | None = None
) -> Page:
    """One page of `queryset` (newest first) starting after `cursor`.

    A filter that no index can serve (text inside the prompt) would read every row of a member
    whose matches are rare. Give `window` (the same rows without that filter, which an index
    serves) and a page examines at most WINDOW of them: it may come back short, with a cursor
    that continues the search where it stopped. Each request stays bounded, whatever the size.
    """
    queryset = _after(queryset.order_by("-created_at", "-id"), cursor)
    edge = None
    if window is not None:
        edges = list(_after(window.order_by("-created_at", "-id"), cursor).values_list("created_at", "id")[
            WINDOW - 1 : WINDOW
        ])
        if edges:
            edge = Cursor(*edges[0])
            queryset = queryset.filter(
                Q(created_at__gte=edge.created_at) & (Q(created_at__gt=edge.created_at) | Q(id__gte=edge.id))
            )
    rows = list(queryset[: size + 1])
    if len(rows) > size:
        rows = rows[:size]
        return Page(rows, Cursor.after(rows[-1]))
    if edge is not None:
        return Page(rows, edge, searched_to=edge.created_at)
    return Page(rows, None)


def _after(queryset: QuerySet, cursor: Cursor | None) -> QuerySet:
    """The rows after `cursor` in (created_at, id) descending order."""
    if cursor is None:
        return queryset
    # `created_at <= c` bounds the index range; the OR only breaks ties within it.
    return queryset.filter(
        Q(created_at__lte=cursor.created_at) & (Q(created_at__lt=cursor.created_at) | Q(id__lt=cursor.id))
    )
