"""`/ws/tools/`: the tool forms of the tools page and of image pages.

A page connects with `?image=<uuid>` and is sent that image's results on (re)connect. Each tool
form is sent with `action` = its Runware task type; the reply is the form (with any errors, the
member's values kept) and, once started, a card for the run at the top of the results. The run's
outcome reaches the card through the runner (`ToolsHandler`), in every open tab.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from django.http import Http404
from django.template.loader import render_to_string

from runware_web.accounts.models import User
from runware_web.live.consumers import PortalConsumer
from runware_web.live.frames import bind_frame
from runware_web.media.access import get_own_image
from runware_web.tools import services
from runware_web.tools.forms import IMAGE_TOOLS, ImageToolForm
from runware_web.upstream.errors import Refused

NO_SUCH_IMAGE = "That image does not exist, or it is not yours. Pick one of your own images."


class ToolsConsumer(PortalConsumer):
    features = (services.FEATURE,)

    async def on_connected(self) -> None:
        image_id = parse_qs(self.scope.get("query_string", b"").decode()).get("image", [""])[0]
        if image_id:
            await self.send_html(await database_sync_to_async(_render_results)(self.user, image_id))

    async def action_caption(self, data: dict[str, Any]) -> None:
        await self.run_tool("caption", data)

    async def action_upscale(self, data: dict[str, Any]) -> None:
        await self.run_tool("upscale", data)

    async def action_removeBackground(self, data: dict[str, Any]) -> None:
        await self.run_tool("removeBackground", data)

    async def action_controlNetPreprocess(self, data: dict[str, Any]) -> None:
        await self.run_tool("controlNetPreprocess", data)

    async def action_imageMasking(self, data: dict[str, Any]) -> None:
        await self.run_tool("imageMasking", data)

    async def run_tool(self, task_type: str, data: dict[str, Any]) -> None:
        form = bind_frame(IMAGE_TOOLS[task_type], data)
        valid = form.is_valid()
        image = None
        if form.cleaned_data.get("image"):  # whose image it is comes before anything else
            try:
                image = await database_sync_to_async(get_own_image)(self.user, form.cleaned_data["image"])
            except Http404:
                await self.send_error(NO_SUCH_IMAGE)
                return
        if not valid or image is None:
            await self.send_html(render_form(form))
            return
        if not form.check_image(image):
            await self.send_html(render_form(form))
            return
        try:
            task = await services.start_image_tool(user=self.user, form=form, image=image)
        except Refused as refused:
            form.add_error(None, refused.message)
            await self.send_html(render_form(form))
            return
        context = {"task": task, "form": form, "image": image}
        pending = render_to_string("tools/index.html#run-pending", context)
        await self.send_html(render_form(form) + pending)


def render_form(form: ImageToolForm) -> str:
    return render_to_string("tools/index.html#tool-form", {"form": form})


def _render_results(user: User, image_id: str) -> str:
    try:
        image = services.own_image(user, image_id)
    except Http404:
        return ""
    runs = services.runs_for_image(user, image)
    return render_to_string("tools/index.html#results", {"image": image, "runs": runs})
