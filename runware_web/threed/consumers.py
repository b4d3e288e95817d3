"""`/ws/3d/`: make 3D models, cancel them, and follow them; every tab of the member sees the same."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from django.http import Http404

from runware_web.live.consumers import PortalConsumer
from runware_web.live.frames import as_querydict
from runware_web.runner import publish
from runware_web.threed import fragments, services
from runware_web.upstream.models import Task


class ThreeDConsumer(PortalConsumer):
    features = (services.FEATURE,)
    default_action = "generate"

    async def on_connected(self) -> None:
        await self.send_html(await database_sync_to_async(fragments.results)(self.user))

    async def action_generate(self, data: dict[str, Any]) -> None:
        outcome = await services.generate(self.user, as_querydict(data), on_start=self._show_new_card)
        await self.send_html(await database_sync_to_async(fragments.answer)(outcome.form, outcome.refusal))

    async def action_cancel(self, data: dict[str, Any]) -> None:
        try:
            task = await services.cancel(self.user, data.get("task"))
        except Http404:
            await self.send_error("There is no such 3D model of yours.")
            return
        if task is None:
            await self.send_error("That 3D model has already ended, so there is nothing to cancel.")
            return
        await publish(
            self.user.pk, services.FEATURE, task.pk, await database_sync_to_async(fragments.card)(task)
        )

    async def _show_new_card(self, task: Task) -> None:
        """Every tab of the member shows the new task before its first update can arrive."""
        await publish(
            self.user.pk, services.FEATURE, task.pk, await database_sync_to_async(fragments.new_card)(task)
        )
