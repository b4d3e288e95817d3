"""The Video page (the form and the recent videos; the rest happens over its socket) and its estimate."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from runware_web.accounts.http import AuthenticatedHttpRequest
from runware_web.video import services
from runware_web.video.catalogue import MODELS
from runware_web.video.forms import VideoForm


@require_safe
def index(request: AuthenticatedHttpRequest) -> HttpResponse:
    return render(request, "video/index.html", {
        "form": VideoForm(), "cards": services.recent_cards(request.user), "models": MODELS.values(),
        "estimate": services.estimate_for(VideoForm(_initial())),
    })


@require_safe
def estimate(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The cost line for the form as it stands (htmx asks on every change)."""
    form = VideoForm(request.GET)
    return render(request, "video/index.html#estimate", {"estimate": services.estimate_for(form)})


def _initial() -> dict[str, object]:
    form = VideoForm()
    initial = {name: field.initial for name, field in form.fields.items() if field.initial is not None}
    initial["positivePrompt"] = "a video"
    return initial
