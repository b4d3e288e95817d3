"""Starting tool tasks and reading back what they produced. Shared by the consumer and the views."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from channels.db import database_sync_to_async
from django.db.models import Prefetch
from django.http import Http404

from runware_web.accounts.models import User
from runware_web.media.access import get_own_image
from runware_web.media.models import Image
from runware_web.media.refs import image_ref
from runware_web.money.prices import estimate
from runware_web.runner import runner
from runware_web.tools.forms import EnhanceForm, ImageToolForm, split_versions
from runware_web.tools.models import TextResult, ToolRun
from runware_web.upstream.models import Task

FEATURE = "tools"
RECENT_RUNS = 20


def own_image(user: User, image_id: Any) -> Image:
    """One of the member's images by its id as typed in a URL or a frame, else 404 (sync)."""
    try:
        parsed = uuid.UUID(str(image_id))
    except ValueError:
        raise Http404("No such image.") from None
    return get_own_image(user, parsed)


async def start_image_tool(*, user: User, form: ImageToolForm, image: Image) -> Task:
    """Submit a valid tool form for one of the member's images. Raises `Refused` (budget, rate)."""
    # The runner sends the image's bytes; the Task row keeps the reference.
    params = form.runware_params(image_ref(image))
    task = await runner.submit(
        user=user,
        feature=FEATURE,
        task_type=form.task_type,
        params=params,
        number_results=1,
        estimated_cost=await database_sync_to_async(estimate)(
            form.task_type, params, 1, input_size=(image.width, image.height)
        ),
        before_start=lambda task: database_sync_to_async(ToolRun.objects.create)(
            task=task, user=user, tool=form.task_type, source=image
        ),
    )
    return task


async def start_enhance(*, user: User, form: EnhanceForm) -> Task:
    versions = form.cleaned_data["promptVersions"]
    params = form.runware_params()
    task = await runner.submit(
        user=user,
        feature=FEATURE,
        task_type="promptEnhance",
        params=params,
        number_results=versions,
        estimated_cost=await database_sync_to_async(estimate)("promptEnhance", params, versions),
        before_start=lambda task: database_sync_to_async(ToolRun.objects.create)(
            task=task, user=user, tool=ToolRun.Tool.ENHANCE, prompt=form.cleaned_data["prompt"]
        ),
    )
    return task


@dataclass
class Enhanced:
    task: Task
    versions: list[str]
    wanted: int


def enhanced(task_id: Any, wanted: int) -> Enhanced:
    """The versions an ended promptEnhance task returned (sync)."""
    task = Task.objects.get(pk=task_id)
    texts = list(task.text_results.order_by("index").values_list("text", flat=True))
    return Enhanced(task=task, versions=split_versions(texts, wanted), wanted=wanted)


def runs_for_image(user: User, image: Image) -> list[ToolRun]:
    """The member's recent tool runs on an image, with what they made (sync)."""
    return list(
        ToolRun.objects.filter(user=user, source=image)
        .select_related("task", "source")
        .prefetch_related(
            Prefetch("task__images", queryset=Image.objects.visible().order_by("created_at")),
            Prefetch("task__text_results", queryset=TextResult.objects.order_by("index")),
        )[:RECENT_RUNS]
    )


def run_with_outputs(task_id: Any) -> ToolRun | None:
    return (
        ToolRun.objects.filter(pk=task_id)
        .select_related("task", "source")
        .prefetch_related(
            Prefetch("task__images", queryset=Image.objects.visible().order_by("created_at")),
            Prefetch("task__text_results", queryset=TextResult.objects.order_by("index")),
        )
        .first()
    )
