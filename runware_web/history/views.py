"""History: every task of the member (images, chat, tools) with its status, duration and cost."""

from __future__ import annotations

from uuid import UUID

from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.fields.json import KT, KeyTextTransform
from django.db.models.functions import Coalesce
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_safe

from runware_web.accounts.http import AuthenticatedHttpRequest
from runware_web.accounts.models import User
from runware_web.history.forms import HistoryFilterForm, apply_task_filters
from runware_web.lib.paging import Cursor, keyset_page
from runware_web.live.render import render_page
from runware_web.media.models import Image
from runware_web.upstream.models import Task

PAGE_SIZE = 50


@require_safe
def index(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = HistoryFilterForm(request.GET or None)
    filters = {}
    if form.is_bound:
        form.is_valid()  # an invalid filter is shown with its error and left out
        filters = form.filters()
    tasks = apply_task_filters(_tasks_of(request.user), filters)
    page = keyset_page(tasks, Cursor.parse(request.GET.get("cursor")), PAGE_SIZE)
    next_url = None
    if page.has_next:
        params = request.GET.copy()
        params["cursor"] = str(page.next_cursor)
        next_url = f"{request.path}?{params.urlencode()}"
    context = {
        "form": form,
        "page": page,
        "next_url": next_url,
        "filtered": bool(filters),
        "gallery_root": reverse("gallery:index"),  # rows link to their images from it
    }
    return render_page(request, "history/index.html", context, partials={"load-more": "rows"})


@require_safe
def row(request: AuthenticatedHttpRequest, task_id: UUID) -> HttpResponse:
    """One task's row, for a page that watches a running task (polled while it runs)."""
    try:
        task = _tasks_of(request.user).get(pk=task_id)
    except Task.DoesNotExist:
        raise Http404("No such task.") from None
    return render(request, "history/index.html#row", {"task": task, "gallery_root": reverse("gallery:index")})


def _tasks_of(user: User) -> QuerySet[Task]:
    saved_images = (
        Image.objects.filter(task=OuterRef("pk"), deleted_at__isnull=True)
        .order_by()
        .values("task")
        .annotate(count=Count("pk"))
        .values("count")
    )
    # The first saved image of each task, shown as the row's thumbnail.
    first_image = (
        Image.objects.filter(task=OuterRef("pk"), deleted_at__isnull=True).order_by("created_at", "id").values("pk")[:1]
    )
    return Task.objects.filter(user=user).annotate(
        image_count=Subquery(saved_images, output_field=IntegerField()),
        thumbnail_id=Subquery(first_image),
        # A task's prompt, or the words a speech task spoke ("" for the others).
        prompt_text=Coalesce(KeyTextTransform("positivePrompt", "params"), KT("params__speech__text")),
    )
