"""What happens to a video task's outcomes: each video stored (streamed), a caption kept, its card
pushed live. Video tools (caption, upscale, remove background) are video tasks too."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async

from runware_web.live.media_tasks import DownloadedResultHandler
from runware_web.upstream.models import Task
from runware_web.video import fragments, services
from runware_web.video.models import VideoCaption


class VideoHandler(DownloadedResultHandler):
    """The runner's handler of "video" tasks (named in settings.RUNWARE_WEB_TASK_HANDLERS): videos,
    and the video tools' results (an upscaled or cut-out video, or a caption)."""

    services = services
    fragments = fragments
    noun = "video"

    def output(self, item: dict[str, Any]) -> tuple[str, str]:
        return str(item.get("videoURL") or ""), str(item.get("videoUUID") or "")

    async def on_result(self, task: Task, item: dict[str, Any]) -> str:
        if task.task_type == "caption":
            await database_sync_to_async(services.store_caption)(task, item)
            return await self.card(task)
        return await super().on_result(task, item)

    async def is_stored(self, task: Task, item: dict[str, Any]) -> bool:
        if task.task_type == "caption":
            return await database_sync_to_async(VideoCaption.objects.filter(task_id=task.pk).exists)()
        return await super().is_stored(task, item)
