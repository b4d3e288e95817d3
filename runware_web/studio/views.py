"""The studio's pages and small HTTP endpoints (uploads, the cost estimate, the no-JavaScript POST)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from asgiref.sync import sync_to_async
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.views.decorators.http import require_POST, require_safe

from runware_web.accounts.http import AuthenticatedHttpRequest
from runware_web.lib.paging import Cursor
from runware_web.live.render import partial_for, render_page
from runware_web.media.models import Image
from runware_web.media.store import UPLOADED_BEFORE
from runware_web.media.uploads import ImageUploadField
from runware_web.runner import detached
from runware_web.studio import services
from runware_web.studio.forms import ASPECT_PRESETS, StudioForm

PAGE = "studio/index.html"

#: "Show older generations" asks for the next page of cards into the box that holds the link.
PARTIALS = {"results-more": "older"}

IMAGE_LABELS = {"seedImage": "Seed image", "maskImage": "Mask image", "controlnet_guide": "Guide image"}


@require_safe
def index(request: AuthenticatedHttpRequest) -> HttpResponse:
    cursor = Cursor.parse(request.GET.get("older"))
    if cursor is not None and partial_for(request, PARTIALS):  # "Show older generations": only the next cards
        cards, older = services.recent_page(request.user, cursor)
        return render_page(request, PAGE, {"cards": cards, "older": older}, partials=PARTIALS)
    prefill = services.prefill(request.user, request.GET)
    form = StudioForm(initial=prefill.initial)
    return _render_index(request, form, notices=prefill.notices, query=services.initial_as_query(prefill.initial),
                         cursor=cursor)


@require_POST
async def generate(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The same form as the socket's, posted without JavaScript: submit, then show the generation."""
    outcome = await detached(services.generate(await request.auser(), request.POST, request.FILES))
    if outcome.task is None:
        status = 200 if outcome.refusal else 400
        return await sync_to_async(_render_index)(request, outcome.form, feedback=outcome.refusal, status=status)
    return redirect("studio:generation", outcome.task.pk)


@require_safe
def generation(request: AuthenticatedHttpRequest, task_id: UUID) -> HttpResponse:
    task = services.get_own_task(request.user, task_id)
    return render_page(request, "studio/generation.html", {"card": services.card_for(task)})


@require_POST
async def cancel(request: AuthenticatedHttpRequest, task_id: UUID) -> HttpResponse:
    await services.cancel(await request.auser(), task_id)
    return redirect("studio:generation", task_id)


@require_POST
def upload(request: AuthenticatedHttpRequest) -> HttpResponse:
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
    upload = services.store_upload(request.user, checked, kind=kind, source=source)
    response = _image_input(request, target, index, image=upload.image)
    if upload.again:  # said in a toast, out of band
        response.write(render_to_string("base.html#toast", {"message": UPLOADED_BEFORE, "level": "info"}))
    return response


@require_safe
def image_input(request: AuthenticatedHttpRequest) -> HttpResponse:
    """An input image widget for one of the member's images ("use this image")."""
    target = request.GET.get("target", "")
    if target not in services.IMAGE_TARGETS:
        raise Http404("Unknown image field.")
    image = services.input_image(request.user, request.GET.get("image"))
    return _image_input(request, target, _index(request.GET.get("index")), image=image)


@require_safe
async def estimate(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The cost estimate next to the Generate button, for the form's current settings."""
    figure = await services.estimate_for(request.GET)
    return await sync_to_async(render)(request, f"{PAGE}#estimate", {"estimate": figure})


def _render_index(
    request: AuthenticatedHttpRequest,
    form: StudioForm,
    *,
    notices: list[str] | None = None,
    feedback: str = "",
    query: Any = None,
    status: int = 200,
    cursor: Cursor | None = None,
) -> HttpResponse:
    """The studio page; with `cursor` (the link's fallback without JavaScript), its results list
    starts at that older page."""
    cards, older = services.recent_page(request.user, cursor)
    context = {
        "form": form,
        "cards": cards,
        "older": older,
        "estimate": services.estimate_for_query(query if query is not None else request.POST),
        "aspect_presets": ASPECT_PRESETS,
        "notices": notices or [],
        "feedback": feedback,
    }
    return render_page(request, PAGE, context, status=status)


def _image_input(
    request: AuthenticatedHttpRequest,
    target: str,
    index: int | None,
    *,
    image: Image | None = None,
    errors: list[str] | None = None,
) -> HttpResponse:
    context = {"target": target, "index": index, "label": IMAGE_LABELS[target], "image_id": image.pk if image else "",
               "errors": errors or []}
    return render(request, f"{PAGE}#image-input", context)


def _index(value: str | None) -> int | None:
    try:
        return max(0, int(value)) if value not in (None, "") else None
    except ValueError:
        return None
