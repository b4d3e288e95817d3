"""What the studio pushes over its socket: partials of the studio page ("studio/index.html#card").

Each top-level element carries the id of the element it replaces (the htmx ws extension swaps them
out-of-band); the template says which regions go together. Sync: call from a DB thread.
"""

from __future__ import annotations

from typing import Any

from django.template.loader import render_to_string

from runware_web.accounts.models import User
from runware_web.studio.forms import StudioForm, error_id_for_parameter
from runware_web.studio.services import Card, Slot, card_for, recent_page
from runware_web.upstream.errors import UpstreamError
from runware_web.upstream.models import Task

PAGE = "studio/index.html"

# The catalog piece's model picker keeps the Model field's messages in its own element.
MODEL_PICKER_ERROR_ID = "id_model_error"


def _render(partial: str, context: dict[str, Any]) -> str:
    return render_to_string(f"{PAGE}#{partial}", context)


def results(user: User) -> str:
    """The whole results list: what a newly connected tab (or a reload) must show."""
    cards, older = recent_page(user, None)
    return _render("results", {"cards": cards, "older": older})


def card(task: Task) -> str:
    return _render("card", {"card": card_for(task)})


def new_card(task: Task) -> str:
    """A generation that just started, put at the top of the results list."""
    return _render("card", {"card": card_for(task), "prepend": True})


def arrived(card: Card, slot: Slot | None) -> str:
    """One image arrived: its slot and the generation's head and status line (which read only
    `card.task`)."""
    return _render("arrived", {"card": card, "slot": slot})


def answer(form: StudioForm, refusal: str = "") -> str:
    """The answer to a Generate: every error container of the form (valid fields' are emptied), and
    next to the button why the portal refused to send it ("" clears the line)."""
    context = {"errors": _errors(form.errors_by_id()), "count": form.error_count(), "feedback": refusal}
    return _render("answer", context)


def failure(task: Task, error: UpstreamError) -> str:
    """A failed generation, and Runware's complaint next to the field it names."""
    error_id = error_id_for_parameter(error.parameter)
    errors = _errors({error_id: [error.message]}) if error_id else {}
    return _render("failure", {"card": card_for(task), "errors": errors})


def _errors(errors: dict[str, list[str]]) -> dict[str, list[str]]:
    """The model field is the catalog's picker, whose error box has an id of its own."""
    if "errors-model" not in errors:
        return errors
    errors = dict(errors)
    errors[MODEL_PICKER_ERROR_ID] = errors.pop("errors-model")
    return errors
