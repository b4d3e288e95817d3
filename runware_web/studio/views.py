"""The studio's pages and small HTTP endpoints (uploads, the cost estimate, the no-JavaScript POST)."""

from __future__ import annotations

from functools import partial
from typing import Any
from uuid import UUID

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from runware_web.media.models import Image
from runware_web.media.uploads import ImageUploadField
from runware_web.studio import fragments, services
from runware_web.studio.forms import ASPECT_PRESETS, SUGGESTED_MODELS, StudioForm
from runware_web.upstream.errors import Refused
from runware_web.runner import detached, runner

IMAGE_LABELS = {"seedImage": "Seed image", "maskImage": "Mask image", "controlnet_guide": "Guide image"}


@require_safe
def index(request: HttpRequest) -> HttpResponse:
    prefill = services.prefill(request.user, request.GET)
    form = StudioForm(initial=prefill.initial)
    return _render_index(request, form, notices=prefill.notices, query=services.initial_as_query(prefill.initial))


@require_POST
async def generate(request: HttpRequest) -> HttpResponse:
    """The same form as the socket's, posted without JavaScript: submit, then show the generation."""
    user = await request.auser()
    prepared = await sync_to_async(services.prepare)(user, request.POST, request.FILES)
    if not prepared.is_valid:
        return await sync_to_async(_render_index)(request, prepared.form, status=400)
    submission = runner.submit(
        user=user,
        feature=services.FEATURE,
        task_type="imageInference",
        params=prepared.params,
        number_results=prepared.number_results,
        estimated_cost=prepared.estimate.amount,
        delivery="sync",
        before_start=partial(database_sync_to_async(services.remember), prepared=prepared),
    )
    try:
        task = await detached(submission)
    except Refused as refusal:
        return await sync_to_async(_render_index)(request, prepared.form, feedback=refusal.message)
    return HttpResponseRedirect(reverse("studio:generation", args=[task.pk]))


@require_safe
def generation(request: HttpRequest, task_id: UUID) -> HttpResponse:
    task = services.get_own_task(request.user, task_id)
    return render(request, "studio/generation.html", {"card": services.card_for(task)})


@require_POST
async def cancel(request: HttpRequest, task_id: UUID) -> HttpResponse:
    user = await request.auser()
    await sync_to_async(services.get_own_task)(user, task_id)
    await runner.cancel(user=user, task_id=task_id)
    return redirect("studio:generation", task_id)


@require_POST
def upload(request: HttpRequest) -> HttpResponse:
    """An input image uploaded from the studio form: stored as the member's, returned as a widget."""
    target = request.POST.get("target", "")
    if target not in services.IMAGE_TARGETS:
        return HttpResponse("Unknown image field.", status=400)
    index = _index(request.POST.get("index"))
    source = None
    if request.POST.get("source"):  # a mask painted over the seed image
        source = services.input_image(request.user, request.POST["source"])
    upload = request.FILES.get(f"{target}_file") or request.FILES.get("image")
    try:
        checked = ImageUploadField().clean(upload)
    except ValidationError as error:
        return _image_input(request, target, index, errors=error.messages)
    if not checked:
        return _image_input(request, target, index, errors=["Choose an image file to upload."])
    kind = Image.Kind.MASK if source is not None and target == "maskImage" else Image.Kind.UPLOADED
    image = services.store_upload(request.user, checked, kind=kind, source=source)
    return _image_input(request, target, index, image=image)


@require_safe
def image_input(request: HttpRequest) -> HttpResponse:
    """An input image widget for one of the member's images ("use this image")."""
    target = request.GET.get("target", "")
    if target not in services.IMAGE_TARGETS:
        raise Http404("Unknown image field.")
    image = services.input_image(request.user, request.GET.get("image"))
    return _image_input(request, target, _index(request.GET.get("index")), image=image)


@require_safe
def estimate(request: HttpRequest) -> HttpResponse:
    """The cost estimate next to the Generate button, for the form's current settings."""
    return render(request, "studio/_estimate.html", {"estimate": services.estimate_for_query(request.GET)})


def _render_index(
    request: HttpRequest,
    form: StudioForm,
    *,
    notices: list[str] | None = None,
    feedback: str = "",
    query: Any = None,
    status: int = 200,
) -> HttpResponse:
    context = {
        "form": form,
        "cards": services.recent_cards(request.user),
        "estimate": services.estimate_for_query(query if query is not None else request.POST),
        "suggested_models": SUGGESTED_MODELS,
        "aspect_presets": ASPECT_PRESETS,
        "notices": notices or [],
        "feedback": feedback,
        "model_picker": fragments.has_model_picker(),
    }
    return render(request, "studio/index.html", context, status=status)


def _image_input(request: HttpRequest, target: str, index: int | None, *, image: Image | None = None,
                 errors: list[str] | None = None) -> HttpResponse:
    context = {"target": target, "index": index, "label": IMAGE_LABELS[target], "image_id": image.pk if image else "",
               "errors": errors or []}
    return render(request, "studio/_image_input.html", context)


def _index(value: str | None) -> int | None:
    try:
        return max(0, int(value)) if value not in (None, "") else None
    except ValueError:
        return None
