"""`/ws/studio/`: generate, cancel and watch generations; every tab of the member sees the same."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from django.http import Http404

from runware_web.live.consumers import PortalConsumer
from runware_web.live.frames import as_querydict
from runware_web.runner import publish
from runware_web.studio import fragments, services
from runware_web.upstream.models import Task

NO_SUCH_GENERATION = "There is no such generation of yours."


class StudioConsumer(PortalConsumer):
    features = (services.FEATURE,)
    default_action = "generate"

    #: On a single generation's page (`?task=<id>`), only that generation's updates are shown.
    watching: str | None = None

    async def on_connected(self) -> None:
        query = parse_qs(self.scope.get("query_string", b"").decode())
        if task_id := query.get("task", [""])[0]:
            await self.action_watch({"task": task_id})
            return
        await self.send_html(await database_sync_to_async(fragments.results)(self.user))

    async def task_update(self, event: dict[str, Any]) -> None:
        if self.watching and event.get("task_id") != self.watching:
            return
        await super().task_update(event)

    async def action_generate(self, data: dict[str, Any]) -> None:
        outcome = await services.generate(self.user, as_querydict(data), on_start=self._show_new_card)
        await self.send_html(await database_sync_to_async(fragments.answer)(outcome.form, outcome.refusal))

    async def action_cancel(self, data: dict[str, Any]) -> None:
        try:
            task = await services.cancel(self.user, data.get("task"))
        except Http404:
            await self.send_error(NO_SUCH_GENERATION)
            return
        if task is None:
            await self.send_error("That generation has already ended, so there is nothing to cancel.")
            return
        await self._publish(task, await database_sync_to_async(fragments.card)(task))

    async def action_watch(self, data: dict[str, Any]) -> None:
        """Follow one generation only (its own page): send its card, then only its updates."""
        try:
            task = await database_sync_to_async(services.get_own_task)(self.user, data.get("task"))
        except Http404:
            await self.send_error(NO_SUCH_GENERATION)
            return
        self.watching = str(task.pk)
        await self.send_html(await database_sync_to_async(fragments.card)(task))

    async def _show_new_card(self, task: Task) -> None:
        """Every tab of the member shows the new generation before its first image can arrive."""
        await self._publish(task, await database_sync_to_async(fragments.new_card)(task))

    async def _publish(self, task: Task, html: str) -> None:
        await publish(self.user.pk, services.FEATURE, task.pk, html)
