"""Binding a WebSocket frame to a Django form the way the same form sent as a POST would be bound.

The htmx ws extension sends a form as a JSON object, and any client can send any JSON. A POST only
ever carries text, and Django's fields expect text: given a JSON object or list, `CharField` takes
its Python repr ("{'a': 1}") as what the member typed. So a frame is first made into what a POST
would have given: a number as its text, a ticked checkbox as "on", null as an empty value.

`as_querydict` is for forms with repeated fields (the studio's LoRA and ControlNet rows), where a
list is the repeated values. `bind_frame` is for forms whose every field takes one value (chat,
tools): there a list or an object is an error on its field, never taken as text nor as blank.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from django import forms
from django.http import QueryDict

STRUCTURE_ERROR = "Expected a single value here, not a list or an object."

FormT = TypeVar("FormT", bound=forms.Form)


def as_querydict(data: Mapping[str, Any]) -> QueryDict:
    """A ws-send JSON object as the QueryDict a POST would give (repeated fields arrive as lists)."""
    query = QueryDict(mutable=True)
    for key, value in data.items():
        values = value if isinstance(value, list) else [value]
        query.setlist(str(key), [_scalar(item) for item in values])
    return query


def _scalar(value: Any) -> str:
    if value is None or isinstance(value, (dict, list)):
        return ""  # e.g. a File object, which JSON turns into {}
    if isinstance(value, bool):
        return "on" if value else ""
    return str(value)


def bind_frame(make_form: Callable[[QueryDict], FormT], frame: Mapping[str, Any]) -> FormT:
    """The form `make_form(data)` (a form class, or a function that binds one) bound to `frame` as
    a POST would bind it, and validated. A list or object given to one of the form's fields is that
    field's only error (not "This field is required.", which would say the wrong thing), and the
    other fields keep their values, so the form re-renders with what the member sent."""
    structured = [name for name, value in frame.items() if isinstance(value, (dict, list))]
    form = make_form(as_querydict({name: value for name, value in frame.items() if name not in structured}))
    form.is_valid()
    for name in structured:
        if name in form.fields:
            form.errors.pop(name, None)
            form.add_error(name, STRUCTURE_ERROR)
    return form
