"""The tools page, the upload, the plain-POST fallback of every tool, and prompt enhancement.

Tools normally run over `/ws/tools/` (see consumers.py); `run_tool` is the same thing for a page
without the socket: it validates the same form, starts the task, waits for it and shows the page.
Prompt enhancement is HTTP (htmx) because it is used from the studio's form, which has its own
socket: the view starts the task and answers when the versions are in.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from asgiref.sync import sync_to_async
from django.contrib import messages
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from runware_web.accounts.http import AuthenticatedHttpRequest
from runware_web.media.access import get_own_image
from runware_web.media.models import Image
from runware_web.media.store import UPLOADED_BEFORE, save_upload
from runware_web.runner import runner
from runware_web.tools import services
from runware_web.tools.forms import IMAGE_TOOLS, EnhanceForm, ImageToolForm, UploadForm
from runware_web.upstream.errors import Refused

GALLERY_PICKS = 18


def tools_url(image: Image | None = None, anchor: str = "") -> str:
    url = reverse("tools:index")
    if image is not None:
        url += "?" + urlencode({"image": str(image.pk)})
    return url + (f"#{anchor}" if anchor else "")


def _page(
    request: AuthenticatedHttpRequest,
    *,
    image: Image | None,
    upload_form: UploadForm | None = None,
    bound: ImageToolForm | None = None,
    status: int = 200,
) -> HttpResponse:
    user = request.user
    context: dict[str, Any] = {
        "image": image,
        "upload_form": upload_form or UploadForm(),
        "bound_form": bound,
        "picks": list(Image.objects.for_user(user).visible()[:GALLERY_PICKS]),
        "enhance_form": EnhanceForm(),
    }
    return render(request, "tools/index.html", context, status=status)


@require_safe
def index(request: AuthenticatedHttpRequest) -> HttpResponse:
    image_id = request.GET.get("image")
    image = services.own_image(request.user, image_id) if image_id else None
    return _page(request, image=image)


@require_POST
def upload(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = UploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _page(request, image=None, upload_form=form, status=400)
    upload = save_upload(request.user, form.cleaned_data["image"])
    if upload.again:
        messages.info(request, UPLOADED_BEFORE)
    return HttpResponseRedirect(tools_url(upload.image))


@require_POST
async def run_tool(request: AuthenticatedHttpRequest, task_type: str) -> HttpResponse:
    """The no-socket path of a tool form: same form, same task; answers once the task has ended."""
    if task_type not in IMAGE_TOOLS:
        raise Http404("No such tool.")
    user = await request.auser()
    form = IMAGE_TOOLS[task_type](request.POST)
    valid = form.is_valid()
    image_id = form.cleaned_data.get("image")
    image = await sync_to_async(get_own_image)(user, image_id) if image_id else None  # 404 first
    if not valid or image is None:
        return await sync_to_async(_page)(request, image=image, bound=form, status=400)
    if not form.check_image(image):
        return await sync_to_async(_page)(request, image=image, bound=form, status=400)
    try:
        task = await services.start_image_tool(user=user, form=form, image=image)
    except Refused as refused:
        form.add_error(None, refused.message)
        return await sync_to_async(_page)(request, image=image, bound=form, status=400)
    await runner.wait(task.pk)
    return HttpResponseRedirect(tools_url(image, anchor=f"tool-run-{task.pk}"))


@require_POST
async def enhance(request: AuthenticatedHttpRequest) -> HttpResponse:
    """htmx: enhance the prompt and answer with the versions to pick from (always 200, so htmx swaps)."""
    user = await request.auser()
    form = EnhanceForm(request.POST)
    context: dict[str, Any] = {"form": form}
    if form.is_valid():
        try:
            task = await services.start_enhance(user=user, form=form)
        except Refused as refused:
            context["error"] = refused.message
        else:
            await runner.wait(task.pk)
            context["result"] = await sync_to_async(services.enhanced)(task.pk, form.cleaned_data["promptVersions"])
    return HttpResponse(render_to_string("tools/index.html#enhance-versions", context))
