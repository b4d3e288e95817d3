"""What happens to a video task's outcomes: each video stored (streamed), a caption kept, its card
pushed live. Video tools (caption, upscale, remove background) are video tasks too."""

from __future__ import annotations

import logging
import os
from typing import Any

from channels.db import database_sync_to_async

from runware_web.media.store import StorageFull
from runware_web.media.video import download
from runware_web.runner import Handler
from runware_web.upstream.errors import UpstreamError
from runware_web.upstream.models import Task
from runware_web.video import fragments, services
from runware_web.video.models import VideoCaption

log = logging.getLogger(__name__)


class VideoHandler(Handler):
    """The runner's handler of "video" tasks (named in settings.RUNWARE_WEB_TASK_HANDLERS)."""

    async def on_result(self, task: Task, item: dict[str, Any]) -> str:
        if task.task_type == "caption":
            await database_sync_to_async(services.store_caption)(task, item)
            return await database_sync_to_async(fragments.card)(task)
        url = item.get("videoURL")
        if not url:
            log.error("Video %s of task %s came without a URL", item.get("videoUUID"), task.pk)
            return await database_sync_to_async(fragments.card)(task)
        try:
            path = await download(str(url))
        except Exception:
            # Billed (the charge is already in the ledger) but not stored: the card says so.
            log.exception("Could not fetch video %s of task %s", item.get("videoUUID"), task.pk)
            return await database_sync_to_async(fragments.card)(task)
        try:
            await database_sync_to_async(services.store_result)(task, item, path)
        except StorageFull:
            raise  # the runner keeps the result and stores it once there is room
        finally:
            os.unlink(path)
        return await database_sync_to_async(fragments.card)(task)

    async def on_progress(self, task: Task, item: dict[str, Any]) -> str:
        progress = item.get("progress")
        percent = progress if isinstance(progress, int) and 0 <= progress <= 100 else None
        return await database_sync_to_async(fragments.card)(task, percent)

    async def on_waiting(self, task: Task, item: dict[str, Any]) -> str:
        return await database_sync_to_async(fragments.card)(task)

    async def on_finished(self, task: Task) -> str:
        return await database_sync_to_async(fragments.card)(task)

    async def on_failed(self, task: Task, error: UpstreamError) -> str:
        return await database_sync_to_async(fragments.failure)(task, error)

    async def is_stored(self, task: Task, item: dict[str, Any]) -> bool:
        if task.task_type == "caption":
            return await database_sync_to_async(VideoCaption.objects.filter(task_id=task.pk).exists)()
        return await database_sync_to_async(services.is_stored)(task.pk, str(item.get("videoUUID") or ""))
