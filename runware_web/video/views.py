"""The Video page (the form and the recent videos; the rest happens over its socket), its estimate,
the form's settings re-drawn for the chosen model, and frame pictures uploaded from the form."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from django.http import HttpResponse, QueryDict
from django.shortcuts import render
from django.views.decorators.http import require_POST, require_safe

from runware_web.accounts.http import AuthenticatedHttpRequest
from runware_web.live.reuse import reused_item
from runware_web.live.uploads import pick_uploads, told
from runware_web.media.models import Image
from runware_web.money.prices import Estimate
from runware_web.video import services
from runware_web.video.catalogue import MODELS
from runware_web.video.forms import FRAMES, FrameUploadForm, VideoForm, settings_of

PAGE = "video/index.html"
UPLOAD_TARGETS = {f"{name}Upload": name for name in FRAMES}
NO_UPLOAD_ERRORS: dict[str, list[str]] = {upload: [] for upload in UPLOAD_TARGETS}


@require_safe
async def index(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The page; `?reuse=<video id>` fills the form with the settings one of the member's videos was
    made with (the gallery's "Reuse settings")."""
    reused, feedback = await database_sync_to_async(_reused)(request)
    form = await database_sync_to_async(VideoForm)(_initial() | reused, user=request.user)
    figure = await services.estimate_for(form)
    return await database_sync_to_async(_render_index)(request, figure, reused, feedback)


def _render_index(
    request: AuthenticatedHttpRequest, figure: Estimate | None, initial: dict[str, Any], feedback: str
) -> HttpResponse:
    return render(
        request,
        PAGE,
        {
            "form": VideoForm(initial=initial, user=request.user),
            "cards": services.recent_cards(request.user),
            "estimate": figure,
            "upload_errors": NO_UPLOAD_ERRORS,
            "feedback": feedback,
        },
    )


def _reused(request: AuthenticatedHttpRequest) -> tuple[dict[str, Any], str]:
    """The settings behind the video `?reuse=` names, if it is the member's own (else a note why not)."""
    video, note = reused_item(request, Image.MediaType.VIDEO, "video")
    return (settings_of(video) if video is not None else {}), note


@require_safe
async def estimate(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The cost line for the form as it stands (htmx asks on every change), priced as `generate`
    prices it (the model's catalogue price looked up first)."""
    form = await database_sync_to_async(VideoForm)(request.GET, user=request.user)
    figure = await services.estimate_for(form)
    return await database_sync_to_async(render)(request, f"{PAGE}#estimate", {"estimate": figure})


@require_safe
def model_settings(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The form's settings for the model chosen (htmx asks when the model or a frame changes).

    Everything typed is kept; a duration or size the new model does not make becomes its default."""
    values = _values(request.GET)
    if request.headers.get("HX-Trigger-Name") == "model":
        _fit_to_model(values)
    return _settings(request, values, NO_UPLOAD_ERRORS)


@require_POST
def upload_frame(request: AuthenticatedHttpRequest) -> HttpResponse:
    """A picture uploaded for the first or last frame: checked, kept in the gallery, then picked."""
    values = _values(request.POST)
    picked = pick_uploads(request.user, FrameUploadForm(request.POST, request.FILES), UPLOAD_TARGETS, values)
    return told(_settings(request, values, picked.errors), picked)


def _settings(
    request: AuthenticatedHttpRequest, values: dict[str, Any], upload_errors: dict[str, list[str]]
) -> HttpResponse:
    form = VideoForm(initial=values, user=request.user)
    return render(request, f"{PAGE}#settings", {"form": form, "upload_errors": upload_errors})


def _values(data: QueryDict) -> dict[str, Any]:
    return {name: data.get(name) for name in VideoForm.base_fields if name in data}


def _fit_to_model(values: dict[str, Any]) -> None:
    model = MODELS.get(str(values.get("model") or ""))
    if model is None:
        return
    try:
        if int(values.get("duration") or 0) not in model.durations:
            values["duration"] = model.duration
    except ValueError:
        pass
    try:
        if (int(values.get("width") or 0), int(values.get("height") or 0)) not in model.sizes:
            values["width"], values["height"] = model.size
    except ValueError:
        pass


def _initial() -> dict[str, object]:
    form = VideoForm()
    initial = {name: field.initial for name, field in form.fields.items() if field.initial is not None}
    initial["positivePrompt"] = "a video"
    return initial
