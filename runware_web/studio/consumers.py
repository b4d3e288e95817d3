"""`/ws/studio/`: generate, cancel and watch generations; every tab of the member sees the same."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from django.http import Http404

from runware_web.live.frames import as_querydict
from runware_web.studio import fragments, services
from runware_web.live.consumers import PortalConsumer
from runware_web.upstream.errors import Refused
from runware_web.upstream.models import Task
from runware_web.runner import publish, runner

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
        prepared = await database_sync_to_async(services.prepare)(self.user, as_querydict(data))
        if not prepared.is_valid:
            await self.send_html(await database_sync_to_async(fragments.form_errors)(prepared.form))
            return

        async def remember_and_show(task: Task) -> None:  # before its first image can arrive
            await database_sync_to_async(services.remember)(task, prepared)
            await publish(self.user.pk, services.FEATURE, task.pk,
                          await database_sync_to_async(fragments.new_card)(task))

        try:
            await runner.submit(
                user=self.user,
                feature=services.FEATURE,
                task_type="imageInference",
                params=prepared.params,
                number_results=prepared.number_results,
                estimated_cost=prepared.estimate.amount,
                delivery="sync",
                before_start=remember_and_show,
            )
        except Refused as refusal:
            await self.send_html(fragments.feedback(refusal.message))
            return
        await self.send_html(await database_sync_to_async(fragments.form_errors)(prepared.form))

    async def action_cancel(self, data: dict[str, Any]) -> None:
        try:
            await database_sync_to_async(services.get_own_task)(self.user, data.get("task"))
        except Http404:
            await self.send_error(NO_SUCH_GENERATION)
            return
        task = await runner.cancel(user=self.user, task_id=data.get("task"))
        if task is None:
            await self.send_error("That generation has already ended, so there is nothing to cancel.")
            return
        await publish(self.user.pk, services.FEATURE, task.pk, await database_sync_to_async(fragments.card)(task))

    async def action_watch(self, data: dict[str, Any]) -> None:
        """Follow one generation only (its own page): send its card, then only its updates."""
        try:
            task = await database_sync_to_async(services.get_own_task)(self.user, data.get("task"))
        except Http404:
            await self.send_error(NO_SUCH_GENERATION)
            return
        self.watching = str(task.pk)
        await self.send_html(await database_sync_to_async(fragments.card)(task))
