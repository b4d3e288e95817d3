"""The keys page, and `/v1` over HTTP: Runware's REST API, and the media URLs of its results.

`POST /v1` takes a JSON array of tasks with `Authorization: Bearer <key>` (or an authentication
task first), answers `{"data": [...]}` / `{"errors": [...]}` with Runware's status codes, and
waits for sync tasks to end. It uses no session cookie and so needs no CSRF token; the key is the
only credential. Result URLs are signed and expire (`ENDPOINT_MEDIA_URL_SECONDS`): like Runware's
CDN links they work in any tool without the key, but they cannot be guessed, name one image only,
and stop working; a trashed image is gone from them at once.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from channels.db import database_sync_to_async
from django.contrib.auth.decorators import login_not_required
from django.core import signing
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST, require_safe
from runware.errors import derive_code

from runware_web.accounts.http import AuthenticatedHttpRequest
from runware_web.endpoint import handlers, keys, protocol, services, streams
from runware_web.endpoint.forms import KeyForm
from runware_web.endpoint.models import EndpointCall
from runware_web.lib.streaming import StreamedFileResponse
from runware_web.media.models import Image
from runware_web.runner import detached, runner

# Runware's HTTP status for each first error of an answer (protocol reference §3.1).
STATUS = {"auth": 401, "quota": 402, "rateLimit": 429, "validation": 400, "notFound": 404}


# ---------------------------------------------------------------------- the keys page


def _page(request: AuthenticatedHttpRequest, form: KeyForm, *, new_key: str = "", status: int = 200) -> HttpResponse:
    own = keys.keys_of(request.user)
    spent = keys.spent_all_time(own)
    rows = [{"key": key, "spent": spent[key.pk], "use": keys.key_use(key) if key.budget is not None else None}
            for key in own]
    return render(request, "endpoint/keys.html", {
        "form": form, "rows": rows, "new_key": new_key,
        "ws_url": request.build_absolute_uri("/v1").replace("http", "ws", 1),
        "http_url": request.build_absolute_uri("/v1"),
    }, status=status)


@require_safe
def index(request: AuthenticatedHttpRequest) -> HttpResponse:
    return _page(request, KeyForm())


@require_POST
def create(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = KeyForm(request.POST)
    if not form.is_valid():
        return _page(request, form, status=400)
    data = form.cleaned_data
    _, plaintext = keys.create_key(
        request.user, name=data["name"], expires_at=data["expires_at"], budget=data["budget"],
        budget_period=data["budget_period"], task_types=data["task_types"], models=data["models"],
    )
    # Shown once, in this answer only: never stored, never in a URL, never cached.
    response = _page(request, KeyForm(), new_key=plaintext)
    response["Cache-Control"] = "no-store"
    return response


@require_POST
def revoke(request: AuthenticatedHttpRequest, key_id: Any) -> HttpResponse:
    keys.revoke(request.user, key_id)
    return HttpResponseRedirect(reverse("endpoint:index"))


# ---------------------------------------------------------------------- /v1 over HTTP


@csrf_exempt
@login_not_required
async def rest(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _answer(services.errors(protocol.error("invalidMethod", "POST a JSON array of tasks to /v1.")), 405)
    try:
        tasks = json.loads(request.body)
    except ValueError:
        tasks = None
    if isinstance(tasks, dict):
        tasks = [tasks]
    plaintext = _bearer(request)
    if isinstance(tasks, list) and tasks and isinstance(tasks[0], dict) and tasks[0].get("taskType") == "authentication":
        plaintext, tasks = tasks[0].get("apiKey"), tasks[1:]
    # The key first: a caller without one learns nothing else, and no work is done for it.
    key = await database_sync_to_async(keys.authenticate)(plaintext)
    if key is None:
        return _answer(services.errors(protocol.error("invalidApiKey", protocol.INVALID_KEY, parameter="apiKey")), 401)
    if not isinstance(tasks, list) or not tasks:
        return _answer(services.errors(protocol.invalid("", "Send a JSON array of task objects.")), 400)
    caller = services.Caller(key=key, base_url=request.build_absolute_uri("/").rstrip("/"))
    if any(isinstance(task, dict) and task.get("deliveryMethod") == "stream" for task in tasks):
        return await _stream(caller, tasks)
    frames = await detached(_run_all(caller, tasks))
    return _merged(frames)


async def _stream(caller: services.Caller, tasks: list[Any]) -> HttpResponse:
    """A streamed textInference: refused with a JSON error before it starts, else answered with
    server-sent events (`data: {...}` per delta, the closing event with usage and cost, `[DONE]`)."""
    if len(tasks) != 1:
        return _answer(services.errors(protocol.invalid(
            "deliveryMethod", "A streamed task goes alone in its request: send the other tasks separately.")), 400)
    frame = await detached(services.answer(caller, tasks[0]))
    if frame is not None or caller.feed is None or not caller.started:
        if caller.started:
            streams.close_feed(caller.started[-1].pk)
        return _merged([frame] if frame is not None else [])
    task_id = caller.started[-1].pk
    ended = asyncio.ensure_future(runner.wait(task_id))
    response = StreamingHttpResponse(streams.server_sent_events(task_id, caller.feed, ended),
                                     content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: pass each event on as it comes
    return response


async def _run_all(caller: services.Caller, tasks: list[Any]) -> list[services.Frame]:
    """Answer every task; sync tasks are waited for and answered with what they produced."""
    frames = []
    for task in tasks:
        before = len(caller.started)
        frame = await services.answer(caller, task)
        if frame is None and len(caller.started) > before:
            started = caller.started[-1]
            await runner.wait(started.pk)
            frame = await database_sync_to_async(_results)(caller, started.pk)
        if frame is not None:
            frames.append(frame)
    return frames


def _results(caller: services.Caller, task_id: Any) -> services.Frame:
    call = EndpointCall.objects.select_related("task").get(task_id=task_id)
    items, failure = services.task_items(call, caller.base_url, with_status=False)
    return services.errors(failure) if failure is not None else services.data(*items)


def _merged(frames: list[services.Frame]) -> HttpResponse:
    items = [item for frame in frames for item in frame.get("data", [])]
    failures = [obj for frame in frames for obj in frame.get("errors", [])]
    if failures:
        return _answer({"errors": failures, **({"data": items} if items else {})}, _status(failures[0]["code"]))
    return _answer({"data": items}, 200)


def _status(raw_code: str) -> int:
    """The SDK's own reading of the raw code decides the status, so the two always agree."""
    return STATUS.get(derive_code(raw_code), 500 if raw_code != "aborted" else 400)


def _bearer(request: HttpRequest) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def _answer(body: dict[str, Any], status: int) -> JsonResponse:
    return JsonResponse(body, status=status)


#: How long a result's URL waits for its image to be stored: the script gets the URL as soon as
#: Runware sends the result, while the portal is still fetching and storing the file (handlers.py).
MEDIA_WAIT_SECONDS = 30.0
MEDIA_POLL_SECONDS = 0.05


@csrf_exempt  # GET only; no cookie is read
@login_not_required
@require_safe
async def media(request: HttpRequest, token: str, ext: str) -> HttpResponse:
    """A result's file, for whoever holds its signed URL (until it expires; 404 once trashed).

    The URL names the image by the id it is stored under, and may come before the file is stored:
    a signed id not stored yet is waited for (MEDIA_WAIT_SECONDS), then 404. The signature, not the
    extension, names the image: the file is served with its own type."""
    try:
        image_id = protocol.image_from_token(token)
    except (signing.BadSignature, ValueError):
        raise Http404("No such image, or its link has expired.") from None
    find = database_sync_to_async(_image_row, thread_sensitive=False)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + MEDIA_WAIT_SECONDS
    # Told the moment this worker stores it; looked for again every MEDIA_POLL_SECONDS all the
    # same, for an image another worker stores.
    with handlers.awaiting_storage(image_id) as stored:
        image = await find(image_id)
        while image is None and loop.time() < deadline:
            await asyncio.wait({stored}, timeout=min(MEDIA_POLL_SECONDS, max(0.0, deadline - loop.time())))
            image = await find(image_id)
    if image is None or image.deleted_at is not None:
        raise Http404("No such image, or its link has expired.")
    handle = await database_sync_to_async(image.file.open, thread_sensitive=False)("rb")
    response = StreamedFileResponse(handle, content_type=image.content_type)
    response["Cache-Control"] = "private, max-age=3600"
    return response


def _image_row(image_id: Any) -> Image | None:
    return Image.objects.filter(pk=image_id).first()
