"""What the 3D page pushes over its socket: partials of "threed/index.html".

Each top-level element carries the id of the element it replaces (htmx's ws extension swaps them
out-of-band). Sync: call from a DB thread.
"""

from __future__ import annotations

from typing import Any

from django.template.loader import render_to_string

from runware_web.accounts.models import User
from runware_web.threed.forms import ThreeDForm
from runware_web.threed.services import card_for, recent_cards
from runware_web.upstream.errors import UpstreamError
from runware_web.upstream.models import Task

PAGE = "threed/index.html"
# Runware names the input image `inputs.image` (or `inputs.images`); the form, `image`.
_FIELDS = {"inputs.image": "image", "inputs.images": "image"}


def _render(partial: str, context: dict[str, Any]) -> str:
    return render_to_string(f"{PAGE}#{partial}", context)


def results(user: User) -> str:
    return _render("results", {"cards": recent_cards(user)})


def card(task: Task, progress: int | None = None) -> str:
    return _render("card", {"card": card_for(task, progress)})


def new_card(task: Task) -> str:
    return _render("card", {"card": card_for(task), "prepend": True})


def answer(form: ThreeDForm, refusal: str = "") -> str:
    """Every error box of the form (emptied where valid), and the line next to the button."""
    return _render("answer", {"errors": form.errors_by_id(), "feedback": refusal})


def failure(task: Task, error: UpstreamError) -> str:
    """A failed model, and Runware's complaint next to the field it names."""
    name = _FIELDS.get(error.parameter, error.parameter)
    errors = {f"errors-{name}": [error.message]} if name in ThreeDForm.base_fields else {}
    return _render("failure", {"card": card_for(task), "errors": errors})
