"""`/ws/video/`: make videos, run the video tools on them, cancel, and follow them; every tab of the
member sees the same."""

from __future__ import annotations

from typing import Any

from django.http import Http404

from runware_web.live.media_tasks import MediaTaskConsumer
from runware_web.upstream.errors import Refused
from runware_web.video import fragments, services


class VideoConsumer(MediaTaskConsumer):
    features = (services.FEATURE,)
    services = services
    fragments = fragments
    noun = "video"

    async def action_tool(self, data: dict[str, Any]) -> None:
        """Caption, upscale or remove the background of one of the member's videos."""
        try:
            await services.run_tool(
                self.user, data.get("tool"), data.get("video"), on_start=self.show_new_card
            )
        except Http404:
            await self.send_error("There is no such video of yours.")
        except (services.ToolRefused, Refused) as refusal:
            await self.send_error(refusal.message)
