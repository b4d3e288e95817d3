"""The Runware API key never reaches a page, a socket frame, a log line (INFO and up) or an error
message, during a full run: generations, a failure, a dropped connection, a chat, a tool, the staff
spend page, and every page afterwards. And the same when Runware refuses the key.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.conf import settings
from django.test import Client
from django.urls import reverse

from runware_web.chat.models import Conversation, Message
from runware_web.media.models import Image
from runware_web.upstream.models import Task
from tests.hardening.helpers import connected, drain, make_image, receive_until

pytestmark = pytest.mark.django_db(transaction=True)

GENERATE = {"action": "generate", "model": "runware:101@1", "width": "256", "height": "256", "numberResults": "2",
            "steps": "4", "outputFormat": "PNG"}


class Transcript:
    """Everything a person or an operator could see."""

    def __init__(self) -> None:
        self.frames: list[str] = []
        self.pages: dict[str, str] = {}

    async def receive_until(self, ws: Any, needle: str, timeout: float = 20) -> str:
        frame = await receive_until(ws, lambda f: self.frames.append(f) or needle in f, timeout)
        return frame

    async def drain(self, ws: Any) -> None:
        self.frames.extend(await drain(ws))


def errors_stored() -> list[str]:
    """Every error text kept in the database (Tasks, chat messages)."""
    texts = []
    for task in Task.objects.all():
        texts += [task.error_code, task.error_message, task.error_parameter, str(task.params)]
    texts += list(Message.objects.values_list("error", flat=True))
    return texts


def leaks(texts: list[str], key: str) -> list[str]:
    return [text[:200] for text in texts if key in text]


def view_every_page(user: Any, staff: Any) -> dict[str, str]:
    """The HTML of every page of the portal that has something in it (sync)."""
    pages = {}
    member, admin = Client(), Client()
    member.force_login(user)
    admin.force_login(staff)
    image = Image.objects.filter(user=user).first()
    task = Task.objects.filter(user=user, feature="studio").first()
    conversation = Conversation.objects.filter(user=user).first()
    urls = [reverse("studio:index"), reverse("gallery:index"), reverse("gallery:team"), reverse("gallery:trash"),
            reverse("history:index"), reverse("catalog:index"), reverse("chat:index"), reverse("tools:index"),
            reverse("account:usage"), reverse("gallery:detail", args=[image.pk]),
            reverse("studio:generation", args=[task.pk]), reverse("history:row", args=[task.pk]),
            reverse("chat:conversation", args=[conversation.pk]), f"{reverse('tools:index')}?image={image.pk}",
            f"{reverse('studio:index')}?reuse={image.pk}", reverse("catalog:index") + "?search=flux"]
    for url in urls:
        response = member.get(url)
        assert response.status_code == 200, url
        pages[url] = response.content.decode()
    for url in [reverse("spend:index"), reverse("spend:export"), reverse("admin:upstream_task_changelist")
                if _admin_has_tasks() else reverse("admin:index")]:
        response = admin.get(url)
        assert response.status_code == 200, url
        pages[url] = response.content.decode()
    pages["404"] = member.get("/no/such/page/").content.decode()
    return pages


def _admin_has_tasks() -> bool:
    from django.contrib import admin

    return Task in admin.site._registry


@pytest.fixture
def info_logs(caplog):
    caplog.set_level(logging.INFO)
    return caplog


async def test_the_key_never_leaks_during_a_full_run(user, staff_user, upstream, info_logs, monkeypatch):
    key = settings.RUNWARE_API_KEY
    assert key and leaks([f"x{key}x"], key), "the scan finds the key where it is"
    seen = Transcript()

    # Studio: two images, a failure Runware reports, a connection that drops mid-task.
    studio = await connected(user, "/ws/studio/")
    await seen.drain(studio)
    for prompt in ["a lighthouse at dusk", "a lighthouse [sim:fail=invalidModel]", "a harbour [sim:drop=1]"]:
        await studio.send_json_to({**GENERATE, "positivePrompt": prompt})
        await seen.receive_until(studio, 'id="gen-')
    for task in [t async for t in Task.objects.filter(user=user)]:
        await upstream.wait(task.pk)
    await seen.drain(studio)

    # Chat: a streamed reply.
    conversation = await Conversation.objects.acreate(user=user, title="Lighthouses")
    chat = await connected(user, f"/ws/chat/?conversation={conversation.pk}")
    await seen.drain(chat)
    await chat.send_json_to({"action": "send", "conversation": str(conversation.pk), "content": "hello there"})
    await seen.receive_until(chat, "hello there")
    reply = await Message.objects.filter(conversation=conversation, role="assistant").alatest("created_at")
    await upstream.wait(reply.task_id)
    await seen.drain(chat)

    # A tool, and the staff page reading the balance.
    image = await database_sync_to_async(make_image)(user)
    tools = await connected(user, f"/ws/tools/?image={image.pk}")
    await seen.drain(tools)
    await tools.send_json_to({"action": "caption", "image": str(image.pk), "model": "runware:150@2"})
    await seen.receive_until(tools, 'id="tool-run-')
    caption = await Task.objects.filter(user=user, feature="tools").alatest("created_at")
    await upstream.wait(caption.pk)
    await seen.drain(tools)
    spend = await connected(staff_user, "/ws/spend/")
    await spend.send_json_to({"action": "check_balance"})
    await seen.receive_until(spend, "reconciliation")
    await seen.drain(studio)

    statuses = {t.task_type + ":" + t.status async for t in Task.objects.filter(user=user)}
    assert {"imageInference:done", "imageInference:failed", "textInference:done", "caption:done"} <= statuses
    pages = await sync_to_async(view_every_page)(user, staff_user)
    stored = await database_sync_to_async(errors_stored)()
    for ws in (studio, chat, tools, spend):
        await ws.disconnect()

    assert len(seen.frames) > 10 and len(pages) > 15 and info_logs.records
    assert not leaks(seen.frames, key), "the key is in a socket frame"
    assert not leaks(list(pages.values()), key), "the key is on a page"
    assert not leaks(stored, key), "the key is in a stored error"
    assert not leaks([r.getMessage() for r in info_logs.records if r.levelno >= logging.INFO], key), "in a log line"
    assert not leaks([info_logs.text], key), "the key is in the log output"


async def test_the_key_never_leaks_when_runware_refuses_it(user, upstream, info_logs, settings):
    settings.RUNWARE_API_KEY = key = "bad-hardening-key-5f3a9c"  # the simulator refuses keys starting "bad"
    seen = Transcript()
    studio = await connected(user, "/ws/studio/")
    await seen.drain(studio)
    await studio.send_json_to({**GENERATE, "positivePrompt": "a lighthouse"})
    await seen.receive_until(studio, 'id="gen-')
    task = await Task.objects.aget(user=user)
    await upstream.wait(task.pk)
    await seen.receive_until(studio, "API key")
    task = await Task.objects.aget(pk=task.pk)

    member = Client()
    await sync_to_async(member.force_login)(user)
    pages = [(await sync_to_async(member.get)(url)).content.decode()
             for url in [reverse("studio:index"), reverse("studio:generation", args=[task.pk]), reverse("history:index")]]
    await studio.disconnect()

    assert task.status == Task.Status.FAILED and "API key" in task.error_message
    assert not leaks(seen.frames + pages + [task.error_message, task.error_code], key)
    assert not leaks([info_logs.text], key), "the refused key is in the log output"
