"""What the Video page pushes over its socket: partials of "video/index.html".

Each top-level element carries the id of the element it replaces (htmx's ws extension swaps them
out-of-band). Sync: call from a DB thread.
"""

from __future__ import annotations

from typing import Any

from django.template.loader import render_to_string

from runware_web.accounts.models import User
from runware_web.upstream.errors import UpstreamError
from runware_web.upstream.models import Task
from runware_web.video.forms import VideoForm
from runware_web.video.services import card_for, recent_cards

PAGE = "video/index.html"


def _render(partial: str, context: dict[str, Any]) -> str:
    return render_to_string(f"{PAGE}#{partial}", context)


def results(user: User) -> str:
    return _render("results", {"cards": recent_cards(user)})


def card(task: Task, progress: int | None = None) -> str:
    return _render("card", {"card": card_for(task, progress)})


def new_card(task: Task) -> str:
    return _render("card", {"card": card_for(task), "prepend": True})


def answer(form: VideoForm, refusal: str = "") -> str:
    """Every error box of the form (emptied where valid), and the line next to the button."""
    return _render("answer", {"errors": form.errors_by_id(), "feedback": refusal})


def failure(task: Task, error: UpstreamError) -> str:
    """A failed video, and Runware's complaint next to the field it names (a frame image's complaint
    next to the first frame). A video tool's failure is on its card only."""
    field = (
        "firstFrame"
        if error.parameter.startswith(("inputs.frameImages", "inputs.image"))
        else error.parameter
    )
    errors = (
        {f"errors-{field}": [error.message]}
        if field in VideoForm.base_fields and task.task_type == "videoInference"
        else {}
    )
    return _render("failure", {"card": card_for(task), "errors": errors})
