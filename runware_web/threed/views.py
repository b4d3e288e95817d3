"""The 3D page (the form and the recent models; the rest happens over its socket), its estimate, and
an image uploaded from the form to start from."""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from csp.decorators import csp_update
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST, require_safe

from runware_web.accounts.http import AuthenticatedHttpRequest
from runware_web.lib.model_viewer import MODEL_VIEWER_CSP
from runware_web.live.reuse import reused_item
from runware_web.live.uploads import pick_uploads, told
from runware_web.media.models import Image
from runware_web.money.prices import Estimate
from runware_web.threed import services
from runware_web.threed.catalogue import DEFAULT_MODEL, MODELS
from runware_web.threed.forms import ImageUploadForm, ThreeDForm, settings_of


@require_safe
async def index(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The page; `?reuse=<3D model id>` fills the form with the settings one of the member's models
    was made with (the gallery's "Reuse settings")."""
    reused, feedback = await sync_to_async(_reused)(request)
    _, figure = await services.checked(
        request.user, {"model": DEFAULT_MODEL, "positivePrompt": "a model", "numberResults": "1"} | reused
    )
    return await sync_to_async(_render_index)(request, figure, reused, feedback)


@csp_update(MODEL_VIEWER_CSP)
def _render_index(
    request: AuthenticatedHttpRequest, figure: Estimate | None, initial: dict[str, Any], feedback: str
) -> HttpResponse:
    return render(
        request,
        "threed/index.html",
        {
            "form": ThreeDForm(initial=initial, user=request.user),
            "cards": services.recent_cards(request.user),
            "models": MODELS.values(),
            "estimate": figure,
            "upload_errors": [],
            "feedback": feedback,
        },
    )


def _reused(request: AuthenticatedHttpRequest) -> tuple[dict[str, Any], str]:
    """The settings behind the 3D model `?reuse=` names, if it is the member's own (else a note why not)."""
    mesh, note = reused_item(request, Image.MediaType.MODEL_3D, "3D model")
    return (settings_of(mesh) if mesh is not None else {}), note


@require_safe
async def estimate(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The cost line for the form as it stands (htmx asks on every change), priced as `generate`
    prices it (the model's catalogue price looked up first)."""
    _, figure = await services.checked(request.user, request.GET)
    return await sync_to_async(render)(request, "threed/index.html#estimate", {"estimate": figure})


@require_POST
def upload_image(request: AuthenticatedHttpRequest) -> HttpResponse:
    """A picture uploaded to start from: checked, kept in the gallery, then picked. Only the picker
    is drawn again (from the form's values posted beside the file); a bad file gets its message
    next to the upload, and the image picked before stays picked."""
    values = {name: request.POST[name] for name in ThreeDForm.base_fields if name in request.POST}
    upload = ImageUploadForm(request.POST, request.FILES)
    picked = pick_uploads(request.user, upload, {"imageUpload": "image"}, values)
    form = ThreeDForm(initial=values, user=request.user)
    context = {"form": form, "upload_errors": picked.errors["imageUpload"]}
    response = render(request, "threed/index.html#image-field", context)
    return told(response, picked)
