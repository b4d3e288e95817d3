"""`/ws/video/`: make videos, run the video tools on them, cancel, and follow them; every tab of the
member sees the same."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from django.http import Http404

from runware_web.live.consumers import PortalConsumer
from runware_web.live.frames import as_querydict
from runware_web.runner import publish
from runware_web.upstream.errors import Refused
from runware_web.upstream.models import Task
from runware_web.video import fragments, services


class VideoConsumer(PortalConsumer):
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
            await self.send_error("There is no such video of yours.")
            return
        if task is None:
            await self.send_error("That video has already ended, so there is nothing to cancel.")
            return
        await publish(
            self.user.pk, services.FEATURE, task.pk, await database_sync_to_async(fragments.card)(task)
        )

    async def action_tool(self, data: dict[str, Any]) -> None:
        """Caption, upscale or remove the background of one of the member's videos."""
        try:
            await services.run_tool(
                self.user, data.get("tool"), data.get("video"), on_start=self._show_new_card
            )
        except Http404:
            await self.send_error("There is no such video of yours.")
        except (services.ToolRefused, Refused) as refusal:
            await self.send_error(refusal.message)

    async def _show_new_card(self, task: Task) -> None:
        """Every tab of the member shows the new task before its first update can arrive."""
        await publish(
            self.user.pk, services.FEATURE, task.pk, await database_sync_to_async(fragments.new_card)(task)
        )
