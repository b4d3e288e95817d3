"""The Audio page (the form and the recent clips; the rest happens over its socket) and its estimate."""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from runware_web.accounts.http import AuthenticatedHttpRequest
from runware_web.audio import services
from runware_web.audio.catalogue import DEFAULT_MODEL, MODELS, page_data
from runware_web.audio.forms import AudioForm
from runware_web.money.prices import Estimate


@require_safe
async def index(request: AuthenticatedHttpRequest) -> HttpResponse:
    figure = await services.estimate_for(AudioForm(_initial()))
    return await sync_to_async(_render_index)(request, figure)


def _render_index(request: AuthenticatedHttpRequest, figure: Estimate | None) -> HttpResponse:
    return render(
        request,
        "audio/index.html",
        {
            "form": AudioForm(user=request.user),
            "cards": services.recent_cards(request.user),
            "models": MODELS.values(),
            "model_data": page_data(),
            "shown": MODELS[DEFAULT_MODEL].fields,
            "estimate": figure,
        },
    )


@require_safe
async def estimate(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The cost line for the form as it stands (htmx asks on every change), priced as `generate`
    prices it (the model's catalogue price looked up first)."""
    figure = await services.estimate_for(AudioForm(request.GET))
    return await sync_to_async(render)(request, "audio/index.html#estimate", {"estimate": figure})


def _initial() -> dict[str, object]:
    form = AudioForm()
    # Speech is priced by its text: until there is some, the page asks for it rather than guessing.
    return {name: field.initial for name, field in form.fields.items() if field.initial is not None}
