"""The 3D page (the form and the recent models; the rest happens over its socket) and its estimate."""

from __future__ import annotations

from asgiref.sync import sync_to_async
from csp.decorators import csp_update
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from runware_web.accounts.http import AuthenticatedHttpRequest
from runware_web.money.prices import Estimate
from runware_web.threed import services
from runware_web.threed.catalogue import DEFAULT_MODEL, MODELS
from runware_web.threed.forms import ThreeDForm

# What the vendored <model-viewer> (static/vendor/model-viewer) needs beyond the portal's policy, on
# the pages that show it: WebAssembly (three.js's meshopt decoder compiles its module on load; this
# allows compiling WebAssembly only, not JavaScript's eval), and the one <style> of its shadow DOM,
# by its hash (a new version of model-viewer may change it: the browser tests then report it).
MODEL_VIEWER_CSP = {
    "script-src": ["'wasm-unsafe-eval'"],
    "style-src": ["'sha256-PXtZZkJMMyc18o/DN1ZEFOJ2qEGq95IQbVaJFMOXOb0='"],
}


@require_safe
async def index(request: AuthenticatedHttpRequest) -> HttpResponse:
    form, _ = await services.checked(request.user, None)
    _, figure = await services.checked(
        request.user, {"model": DEFAULT_MODEL, "positivePrompt": "a model", "numberResults": "1"}
    )
    return await sync_to_async(_render_index)(request, form, figure)


@csp_update(MODEL_VIEWER_CSP)
def _render_index(
    request: AuthenticatedHttpRequest, form: ThreeDForm, figure: Estimate | None
) -> HttpResponse:
    return render(
        request,
        "threed/index.html",
        {
            "form": form,
            "cards": services.recent_cards(request.user),
            "models": MODELS.values(),
            "estimate": figure,
        },
    )


@require_safe
async def estimate(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The cost line for the form as it stands (htmx asks on every change), priced as `generate`
    prices it (the model's catalogue price looked up first)."""
    _, figure = await services.checked(request.user, request.GET)
    return await sync_to_async(render)(request, "threed/index.html#estimate", {"estimate": figure})
