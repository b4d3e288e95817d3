"""`/ws/chat/`: send a message, stop or regenerate a reply, change a conversation's settings.

The page connects with `?conversation=<id>` so that a reload or reconnect is sent the current
thread. Every action names its conversation; another member's gives "No such conversation."
(the socket's 404) and changes nothing. Replies stream through the runner, which publishes each
chunk to the member's group; `PortalConsumer.task_update` forwards them here.

Forms are bound with `bind_frame`, as a POST would bind them: a number is its text, and a JSON list
or object where a field takes one value is refused next to that field (never sent as its repr).
"""

from __future__ import annotations

from functools import partial
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from django.http import Http404

from runware_web.chat import fragments
from runware_web.chat.access import get_own_conversation
from runware_web.chat.forms import EditForm, MessageForm, SettingsForm
from runware_web.chat.models import Conversation
from runware_web.chat.services import ChatError, edit_message, regenerate, send_message, stop
from runware_web.live.consumers import PortalConsumer
from runware_web.live.frames import bind_frame

NO_SUCH_CONVERSATION = "No such conversation. It may have been deleted; open it again from the list."


class ChatConsumer(PortalConsumer):
    features = ("chat",)
    default_action = "send"

    async def on_connected(self) -> None:
        query = parse_qs(self.scope.get("query_string", b"").decode())
        conversation_id = (query.get("conversation") or [""])[0]
        if conversation_id:
            await self.send_html(await self._render(conversation_id, fragments.thread))

    # ------------------------------------------------------------------ actions

    async def action_send(self, data: dict[str, Any]) -> None:
        conversation = await self._conversation(data)
        if conversation is None:
            return
        form = await database_sync_to_async(_bind_message)(conversation, data)
        if form.is_valid():
            try:
                await send_message(
                    user=self.user,
                    conversation_id=conversation.pk,
                    content=form.cleaned_data["content"],
                    model=form.cleaned_data["model"],
                )
            except ChatError as error:
                form.add_error("content", error.message)
            else:
                await self.send_html(await database_sync_to_async(fragments.sent)(self.user, conversation))
                return
        await self.send_html(await database_sync_to_async(fragments.composer_field)(conversation, form))

    async def action_edit(self, data: dict[str, Any]) -> None:
        conversation = await self._conversation(data)
        if conversation is None:
            return
        form = bind_frame(EditForm, data)
        if form.is_valid():
            try:
                turn = await edit_message(
                    user=self.user,
                    conversation_id=conversation.pk,
                    message_id=form.cleaned_data["message"],
                    content=form.cleaned_data["content"],
                )
            except ChatError as error:
                form.add_error("content", error.message)
            else:
                await self.send_html(await database_sync_to_async(fragments.turn_started)(
                    conversation, new=2, removed=turn.replaced))
                return
        await self.send_html(await database_sync_to_async(fragments.edit_form)(conversation, form))

    async def action_stop(self, data: dict[str, Any]) -> None:
        conversation = await self._conversation(data)
        if conversation is None:
            return
        try:
            message = await stop(user=self.user, conversation_id=conversation.pk)
        except ChatError as error:
            await self.send_error(error.message)
            return
        await self.send_html(await database_sync_to_async(fragments.ended)(message))

    async def action_regenerate(self, data: dict[str, Any]) -> None:
        conversation = await self._conversation(data)
        if conversation is None:
            return
        try:
            turn = await regenerate(user=self.user, conversation_id=conversation.pk)
        except ChatError as error:
            await self.send_error(error.message)
            return
        await self.send_html(await database_sync_to_async(fragments.turn_started)(
            conversation, new=1, removed=turn.replaced))

    async def action_settings(self, data: dict[str, Any]) -> None:
        conversation = await self._conversation(data)
        if conversation is None:
            return
        await self.send_html(await database_sync_to_async(_save_settings)(conversation, data))

    # ------------------------------------------------------------------ helpers

    async def _conversation(self, data: dict[str, Any]) -> Conversation | None:
        try:
            return await database_sync_to_async(get_own_conversation)(self.user, data.get("conversation"))
        except Http404:
            await self.send_error(NO_SUCH_CONVERSATION)
            return None

    async def _render(self, conversation_id: Any, render: Any) -> str:
        def run() -> str:
            try:
                return render(get_own_conversation(self.user, conversation_id))
            except Http404:
                return ""

        return await database_sync_to_async(run)()


def _bind_message(conversation: Conversation, data: dict[str, Any]) -> MessageForm:
    form = bind_frame(partial(MessageForm.for_conversation, conversation), data)
    form.is_valid()  # the model choices read the team's rules: validate here, not in the event loop
    return form


def _save_settings(conversation: Conversation, data: dict[str, Any]) -> str:
    form = bind_frame(partial(SettingsForm.for_conversation, conversation), data)
    if not form.is_valid():
        return fragments.settings_form(conversation, form)
    form.save(conversation)
    return fragments.settings_form(conversation, saved=True)
