"""What the life tests of async-delivery tasks (video, audio, 3D) share: a tab of a page's socket, its
frames, what a task left in the database and the gallery, and a task a dead worker sent and left."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import aiohttp
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client
from django.utils import timezone

from runware_web.media.models import Image
from runware_web.money.models import Charge
from runware_web.upstream.models import Task, Worker

DEAD_WORKER = "dead-worker"
RESULT_KEYS = ("videoURL", "audioURL", "outputs")  # where an item carries what Runware made


async def open_tab(app: Any, path: str, user) -> tuple[WebsocketCommunicator, str]:
    """A tab of the page whose socket is `path`, signed in as `user`, and the first frame it shows
    (the member's recent tasks)."""
    ws = WebsocketCommunicator(app, path)
    ws.scope["user"] = user
    connected, _ = await ws.connect()
    assert connected
    return ws, await ws.receive_from(timeout=10)


async def receive_until(ws: WebsocketCommunicator, wanted, timeout: float = 20) -> str:
    while True:
        frame = await ws.receive_from(timeout=timeout)
        if wanted(frame):
            return frame


@database_sync_to_async
def stored(task_id: Any) -> tuple[Task, list[Image], list[Charge]]:
    """The task, its results (oldest first) and its rows in the ledger."""
    task = Task.objects.get(pk=task_id)
    return task, list(task.images.order_by("created_at")), list(Charge.objects.filter(task=task))


@database_sync_to_async
def charge_count() -> int:
    return Charge.objects.count()


@database_sync_to_async
def gallery_of(user, query: str) -> str:
    """The member's gallery page, filtered by `query` ("?media=video")."""
    client = Client()
    client.force_login(user)
    return client.get(f"/gallery/{query}").content.decode()


def file_head(image: Image, length: int = 12) -> bytes:
    """The first bytes of a result's file, read from the disk."""
    with image.file.open("rb") as handle:
        return handle.read(length)


async def left_by_a_dead_worker(user, *, feature: str, task_type: str, params: dict[str, Any]) -> Task:
    """A task a worker sent (async delivery, over REST here: acknowledged at once, nothing made yet)
    and recorded as its own, running, before it died: its lease long run out."""
    task_uuid = uuid.uuid4()
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            settings.RUNWARE_HTTP_URL,
            headers={"Authorization": f"Bearer {settings.RUNWARE_API_KEY}"},
            json=[
                {
                    **params,
                    "taskType": task_type,
                    "taskUUID": str(task_uuid),
                    "includeCost": True,
                    "deliveryMethod": "async",
                }
            ],
        ) as response,
    ):
        ack = await response.json()
    assert response.status == 200 and "errors" not in ack, ack
    assert not any(item.get(key) for item in ack["data"] for key in RESULT_KEYS), ack

    @database_sync_to_async
    def orphan() -> Task:
        Worker.objects.create(id=DEAD_WORKER, last_seen=timezone.now() - timedelta(minutes=5))
        return Task.objects.create(
            id=task_uuid,
            user=user,
            feature=feature,
            task_type=task_type,
            model=params["model"],
            params=params,
            number_results=params.get("numberResults", 1),
            status=Task.Status.RUNNING,
            worker=DEAD_WORKER,
            delivery="async",
            started_at=timezone.now(),
        )

    return await orphan()
