"""HTML fragments the studio pushes over its socket. Each top-level element carries the id of the
element it replaces (the htmx ws extension swaps them out-of-band). Sync: call from a DB thread.
"""

from __future__ import annotations

from typing import Any

from django.template import TemplateDoesNotExist
from django.template.loader import get_template, render_to_string

from runware_web.studio.forms import StudioForm, error_id_for_parameter
from runware_web.studio.services import Card, Slot, card_for, recent_cards
from runware_web.upstream.errors import UpstreamError
from runware_web.upstream.models import Task


def results(user: Any) -> str:
    """The whole results list: what a newly connected tab (or a reload) must show."""
    return render_to_string("studio/_results.html", {"cards": recent_cards(user)})


def card(task: Task) -> str:
    return render_to_string("studio/_card.html", {"card": card_for(task)})


def new_card(task: Task) -> str:
    """A generation that just started, put at the top of the results list."""
    return render_to_string("studio/_card.html", {"card": card_for(task), "prepend": True})


def arrived(card: Card, slot: Slot | None) -> str:
    """One image arrived: its slot and the generation's head and status line (which read only
    `card.task`)."""
    html = render_to_string("studio/_slot.html", {"card": card, "slot": slot}) if slot else ""
    return (html + render_to_string("studio/_card_head.html", {"card": card})
            + render_to_string("studio/_status.html", {"card": card}))


def form_errors(form: StudioForm) -> str:
    """Every error container of the form (valid fields' containers are emptied)."""
    return _errors(form.errors_by_id(), count=form.error_count()) + feedback("")


def _errors(errors: dict[str, list[str]], *, count: int = 0) -> str:
    if "errors-model" in errors and has_model_picker():
        errors = {**errors, MODEL_PICKER_ERROR_ID: errors["errors-model"]}
    return render_to_string("studio/_errors.html", {"errors": errors, "count": count})


# The catalog piece's model picker keeps the Model field's messages in its own element.
MODEL_PICKER_ERROR_ID = "id_model_error"


def has_model_picker() -> bool:
    """Whether the catalog piece's search-as-you-type model picker is installed."""
    try:
        get_template("catalog/_model_picker.html")
    except TemplateDoesNotExist:
        return False
    return True


def feedback(message: str) -> str:
    """The message next to the Generate button ("" clears it)."""
    return render_to_string("studio/_feedback.html", {"message": message})


def failure(task: Task, error: UpstreamError) -> str:
    """A failed generation, and Runware's complaint next to the field it names."""
    html = card(task)
    error_id = error_id_for_parameter(error.parameter)
    if error_id:
        html += _errors({error_id: [error.message]})
    return html
