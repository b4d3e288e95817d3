"""Activity: every running task of the member, whatever feature started it, in one list.

The header of every page holds a count of them that opens the list (templates/activity/control.html).
The list keeps itself current over HTTP, not over a socket of its own (a member's sockets are
capped, live.tabs): it is fetched when a page loads and after the page's socket brings news, and
polled every few seconds only while something runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

from django.contrib import messages
from django.db.models import QuerySet
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST, require_safe

from runware_web.accounts.http import AuthenticatedHttpRequest
from runware_web.accounts.models import User
from runware_web.lib.kinds import kind_label
from runware_web.live.render import render_page
from runware_web.runner import runner
from runware_web.upstream.models import Task

#: The features whose tasks are cancelled by the runner alone (a chat reply is stopped in its
#: conversation, which also closes the message).
CANCELLABLE = ("studio", "video")
#: Seconds between polls while something runs.
POLL_SECONDS = 3
#: At most this many tasks are listed (the newest); the count covers them all.
LISTED = 20


@dataclass(frozen=True)
class Running:
    task: Task
    label: str
    summary: str
    url: str
    elapsed: timedelta
    cancellable: bool


@require_safe
def index(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The list as a page of its own, or (for the header's poller) the count and list to swap in."""
    tasks = running_tasks(request.user)
    context = {
        "running": [_describe(task) for task in tasks[:LISTED]],
        "count": tasks.count(),
        "poll_seconds": POLL_SECONDS,
    }
    return render_page(request, "activity/index.html", context, partials={"activity-poll": "poll"})


@require_POST
async def cancel(request: AuthenticatedHttpRequest, task_id: UUID) -> HttpResponse:
    user = await request.auser()
    if not await Task.objects.filter(pk=task_id, user=user, feature__in=CANCELLABLE).aexists():
        raise Http404("No such task of yours.")
    if await runner.cancel(user=user, task_id=task_id) is None:
        messages.error(request, "That task has already ended, so there is nothing to cancel.")
    else:
        messages.success(request, "Cancelled. Runware still bills what it had started.")
    return redirect(_back(request))


def running_tasks(user: User) -> QuerySet[Task]:
    """The member's tasks that have not ended, newest first."""
    return (
        Task.objects.filter(
            user=user, status__in=[Task.Status.QUEUED, Task.Status.RUNNING], finished_at__isnull=True
        )
        .select_related("chat_message__conversation", "tool_run")
        .order_by("-created_at")
    )


def _describe(task: Task) -> Running:
    started = task.started_at or task.created_at
    return Running(
        task=task,
        label=kind_label(task.task_type),
        summary=_summary(task),
        url=_where(task),
        elapsed=max(timezone.now() - started, timedelta(0)),
        cancellable=task.feature in CANCELLABLE,
    )


def _summary(task: Task) -> str:
    params = task.params if isinstance(task.params, dict) else {}
    for key in ("positivePrompt", "prompt", "inputImage"):
        if isinstance(params.get(key), str) and params[key]:
            return params[key] if key != "inputImage" else "an image"
    message = getattr(task, "chat_message", None)
    if message is not None:
        return message.conversation.display_title
    return ""


def _where(task: Task) -> str:
    """Where the task runs: the page that shows it live."""
    if task.feature == "studio":
        return reverse("studio:generation", args=[task.pk])
    if task.feature == "chat" and getattr(task, "chat_message", None) is not None:
        return reverse("chat:conversation", args=[task.chat_message.conversation_id])
    if task.feature == "tools" and getattr(task, "tool_run", None) is not None and task.tool_run.source_id:
        return f"{reverse('tools:index')}?image={task.tool_run.source_id}"
    if task.feature in ("video", "tools", "chat"):
        return reverse(f"{task.feature}:index")
    return reverse("history:index")


def _back(request: AuthenticatedHttpRequest) -> str:
    """The page the member cancelled from (this site's only), else the list."""
    referer = request.headers.get("Referer", "")
    if url_has_allowed_host_and_scheme(referer, {request.get_host()}, require_https=request.is_secure()):
        return referer
    return reverse("activity:index")
