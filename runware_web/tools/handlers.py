"""What happens to a tool task's outcomes: images go to the gallery linked to their source, texts
to `TextResult`, and the run's card is re-rendered for the member's open tool pages."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from django.template.loader import render_to_string

from runware_web.media.models import Image
from runware_web.media.store import has_output, result_bytes, save_image
from runware_web.runner import Handler, parse_cost
from runware_web.tools.models import TextResult, ToolRun
from runware_web.tools.services import run_with_outputs
from runware_web.upstream.errors import UpstreamError
from runware_web.upstream.models import Task

# task type → (the result item's field prefix, the gallery kind of the image)
IMAGE_OUTPUTS: dict[str, tuple[str, str]] = {
    "upscale": ("image", Image.Kind.UPSCALED),
    "removeBackground": ("image", Image.Kind.BACKGROUND_REMOVED),
    "controlNetPreprocess": ("guideImage", Image.Kind.GUIDE),
    "imageMasking": ("maskImage", Image.Kind.MASK),
}
TEXT_OUTPUTS = {"caption", "promptEnhance"}


class ToolsHandler(Handler):
    """The runner's handler of "tools" tasks (named in settings.RUNWARE_WEB_TASK_HANDLERS)."""

    async def on_result(self, task: Task, item: dict[str, Any]) -> str:
        if task.task_type in IMAGE_OUTPUTS:
            prefix, kind = IMAGE_OUTPUTS[task.task_type]
            data = await result_bytes(item, prefix)
            await database_sync_to_async(_save_image_result)(task, item, data, prefix=prefix, kind=kind)
        elif task.task_type in TEXT_OUTPUTS:
            await database_sync_to_async(_save_text_result)(task, item)
        return await render_run_card(task.pk)

    async def is_stored(self, task: Task, item: dict[str, Any]) -> bool:
        if task.task_type not in IMAGE_OUTPUTS:
            return True  # texts are saved with their charge's task; there is no file to lose
        prefix, _ = IMAGE_OUTPUTS[task.task_type]
        return await database_sync_to_async(has_output)(task.pk, str(item.get(f"{prefix}UUID") or ""))

    async def on_progress(self, task: Task, item: dict[str, Any]) -> str:
        progress = item.get("progress")
        return await render_run_card(task.pk, progress=progress if isinstance(progress, int | float) else None)

    async def on_finished(self, task: Task) -> str:
        return await render_run_card(task.pk)

    async def on_failed(self, task: Task, error: UpstreamError) -> str:
        return await render_run_card(task.pk)


@database_sync_to_async
def render_run_card(task_id: Any, *, progress: float | None = None) -> str:
    run = run_with_outputs(task_id)
    if run is None or run.tool == ToolRun.Tool.ENHANCE:
        return ""  # enhancement answers its HTTP request; nothing to push
    return render_to_string("tools/index.html#run", {"run": run, "progress": progress})


def _source_of(task: Task) -> Image | None:
    run = ToolRun.objects.filter(pk=task.pk).select_related("source").first()
    return run.source if run else None


def _save_image_result(task: Task, item: dict[str, Any], data: bytes, *, prefix: str, kind: str) -> Image:
    source = _source_of(task)
    return save_image(
        user=task.user,
        data=data,
        kind=kind,
        task=task,
        source=source,
        prompt=source.prompt if source else "",
        model=task.model,
        cost=parse_cost(item.get("cost")),
        runware_uuid=str(item.get(f"{prefix}UUID") or ""),
        original_name=source.original_name if source else "",
    )


def _save_text_result(task: Task, item: dict[str, Any]) -> TextResult:
    text = item.get("text")
    if not isinstance(text, str):
        text = str(item.get("structuredData") or "")
    return TextResult.objects.create(
        task=task,
        user_id=task.user_id,
        source=_source_of(task),
        index=TextResult.objects.filter(task=task).count(),
        text=text,
        cost=parse_cost(item.get("cost")),
    )
