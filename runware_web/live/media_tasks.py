"""What the media-making pages (video, audio, 3D) share: a socket that starts, cancels and follows
their tasks, and a runner handler that stores each result Runware hands back as a file.

A feature subclasses both and names its own `services` (generate, cancel, store_result) and
`fragments` (results, answer, card, new_card, failure) modules; the socket's messages name what it
makes ("video", "audio clip", "3D model").
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any, ClassVar

from channels.db import database_sync_to_async
from django.http import Http404

from runware_web.live.consumers import PortalConsumer
from runware_web.live.frames import as_querydict
from runware_web.media.store import has_output
from runware_web.media.video import download
from runware_web.money.prices import Estimate
from runware_web.runner import Handler, publish, runner
from runware_web.upstream.errors import Refused, UpstreamError
from runware_web.upstream.models import Task

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    """What became of a request: the form (with its errors), the task started, or why it was refused."""

    form: Any
    task: Task | None = None
    refusal: str = ""


async def start_async(
    user: Any,
    feature: str,
    task_type: str,
    form: Any,
    estimate: Estimate | None,
    on_start: Callable[[Task], Awaitable[None]] | None,
) -> Outcome:
    """Start a checked request with async delivery, reserving the estimate the page showed; an
    invalid form (no estimate) or a refusal is answered on the form, and nothing is sent."""
    if estimate is None:
        return Outcome(form)
    params = form.params()
    try:
        task = await runner.submit(
            user=user,
            feature=feature,
            task_type=task_type,
            params=params,
            number_results=params["numberResults"],
            estimated_cost=estimate.amount,
            delivery="async",
            before_start=on_start,
        )
    except Refused as refusal:
        return Outcome(form, refusal=refusal.message)
    return Outcome(form, task=task)


class MediaTaskConsumer(PortalConsumer):
    """`generate` and `cancel`, every tab of the member seeing each task from its start."""

    services: ClassVar[ModuleType]
    fragments: ClassVar[ModuleType]
    noun: ClassVar[str]  # "video", "audio clip", "3D model"
    default_action = "generate"

    async def on_connected(self) -> None:
        await self.send_html(await database_sync_to_async(self.fragments.results)(self.user))

    async def action_generate(self, data: dict[str, Any]) -> None:
        outcome = await self.services.generate(self.user, as_querydict(data), on_start=self.show_new_card)
        await self.send_html(await database_sync_to_async(self.fragments.answer)(outcome.form, outcome.refusal))

    async def action_cancel(self, data: dict[str, Any]) -> None:
        try:
            task = await self.services.cancel(self.user, data.get("task"))
        except Http404:
            await self.send_error(f"There is no such {self.noun} of yours.")
            return
        if task is None:
            await self.send_error(f"That {self.noun} has already ended, so there is nothing to cancel.")
            return
        await publish(
            self.user.pk, self.services.FEATURE, task.pk, await database_sync_to_async(self.fragments.card)(task)
        )

    async def show_new_card(self, task: Task) -> None:
        """Every tab of the member shows the new task before its first update can arrive."""
        await publish(
            self.user.pk, self.services.FEATURE, task.pk, await database_sync_to_async(self.fragments.new_card)(task)
        )


class DownloadedResultHandler(Handler):
    """Each result is a file at a URL: downloaded to a temporary file (streamed), stored by the
    feature's `services.store_result(task, item, path)`, and the task's card pushed."""

    services: ClassVar[ModuleType]
    fragments: ClassVar[ModuleType]
    noun: ClassVar[str]

    def output(self, item: dict[str, Any]) -> tuple[str, str]:
        """The result's file URL and Runware's UUID for it."""
        raise NotImplementedError

    async def card(self, task: Task, progress: int | None = None) -> str:
        return await database_sync_to_async(self.fragments.card)(task, progress)

    async def on_result(self, task: Task, item: dict[str, Any]) -> str:
        url, uuid = self.output(item)
        if not url:
            log.error("The %s %s of task %s came without a file", self.noun, uuid, task.pk)
            return await self.card(task)
        try:
            path = await download(url)
        except Exception:
            # Billed (the charge is already in the ledger) but not stored: the card says so.
            log.exception("Could not fetch the %s %s of task %s", self.noun, uuid, task.pk)
            return await self.card(task)
        try:
            # StorageFull goes on up: the runner keeps the result and stores it once there is room.
            await database_sync_to_async(self.services.store_result)(task, item, path)
        finally:
            os.unlink(path)
        return await self.card(task)

    async def on_progress(self, task: Task, item: dict[str, Any]) -> str:
        progress = item.get("progress")
        return await self.card(task, progress if isinstance(progress, int) and 0 <= progress <= 100 else None)

    async def on_waiting(self, task: Task, item: dict[str, Any]) -> str:
        return await self.card(task)

    async def on_finished(self, task: Task) -> str:
        return await self.card(task)

    async def on_failed(self, task: Task, error: UpstreamError) -> str:
        return await database_sync_to_async(self.fragments.failure)(task, error)

    async def is_stored(self, task: Task, item: dict[str, Any]) -> bool:
        return await database_sync_to_async(has_output)(task.pk, self.output(item)[1])
