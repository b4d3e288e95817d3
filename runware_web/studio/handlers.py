"""What happens to a studio generation's outcomes: images saved with their cost, fragments pushed."""

from __future__ import annotations

import logging
from typing import Any

from channels.db import database_sync_to_async

from runware_web.media.store import has_output, result_bytes
from runware_web.runner import Handler
from runware_web.studio import fragments, services
from runware_web.upstream.errors import UpstreamError
from runware_web.upstream.models import Task

log = logging.getLogger(__name__)


class StudioHandler(Handler):
    """The runner's handler of "studio" tasks (named in settings.RUNWARE_WEB_TASK_HANDLERS)."""

    async def on_result(self, task: Task, item: dict[str, Any]) -> str:
        try:
            data = await result_bytes(item)
        except Exception:
            # Billed (the charge is already in the ledger) but not stored: the card says so.
            log.exception("Could not fetch image %s of task %s", item.get("imageUUID"), task.pk)
            return await database_sync_to_async(_render_current)(task)
        return await database_sync_to_async(_save_and_render)(task, item, data)

    async def on_waiting(self, task: Task, item: dict[str, Any]) -> str:
        # The disk is full: the runner keeps the image and stores it later; its slot says so.
        return await database_sync_to_async(_render_current)(task)

    async def on_finished(self, task: Task) -> str:
        return await database_sync_to_async(fragments.card)(task)

    async def is_stored(self, task: Task, item: dict[str, Any]) -> bool:
        return await database_sync_to_async(has_output)(task.pk, str(item.get("imageUUID") or ""))

    async def on_failed(self, task: Task, error: UpstreamError) -> str:
        return await database_sync_to_async(fragments.failure)(task, error)


def _save_and_render(task: Task, item: dict[str, Any], data: bytes) -> str:
    fresh, slot = services.save_result(task, item, data)
    if fresh.status == Task.Status.CANCELLED:
        return fragments.card(fresh)  # the page stopped waiting: show what still arrived, marked cancelled
    return fragments.arrived(services.status_card(fresh), slot)


def _render_current(task: Task) -> str:
    fresh, card, index = services.current(task)
    if fresh.status == Task.Status.CANCELLED:
        return fragments.card(fresh)
    return fragments.arrived(card, next((slot for slot in card.slots if slot.index == index), None))
