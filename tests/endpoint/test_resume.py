"""Session resume: a script whose socket dropped re-authenticates with its connectionSessionUUID
and is sent the results of the tasks that finished while it was away, as Runware sends what it
buffered for a session. Driven with raw websockets: the official SDK fails a sync call in flight
when its socket drops (and polls async ones), so only a hand-written client sees the re-sent frames."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
import websockets
from django.core.cache import cache

from runware_web.endpoint.consumers import _drop_key
from runware_web.endpoint.handlers import session_group
from runware_web.media.models import Image
from runware_web.upstream.models import Task
from tests.endpoint.helpers import PING, PONG, amember_with_key, eventually, image_task

pytestmark = pytest.mark.django_db(transaction=True)



def ws_url(live_server_url: str) -> str:
    return live_server_url.replace("http://", "ws://") + "/v1"


async def authenticate(ws, api_key: str, session: str | None = None) -> str:
    message = {"taskType": "authentication", "apiKey": api_key}
    if session:
        message["connectionSessionUUID"] = session
    await ws.send(json.dumps([message]))
    answer = json.loads(await ws.recv())
    return answer["data"][0]["connectionSessionUUID"]


async def frames_until_pong(ws) -> list[dict]:
    """Every frame the socket is sent before the pong to a ping sent now (which ends the wait)."""
    await ws.send(PING)
    frames = []
    while (frame := json.loads(await asyncio.wait_for(ws.recv(), 10))) != PONG:
        frames.append(frame)
    return frames


async def drop_while_a_task_runs(
    live_server_url: str, simulator, api_key: str, user_id: int
) -> tuple[str, str]:
    """Start a two-image task, drop the socket before its results come, and wait until the task
    has finished and the drop is noted; the session and the script's taskUUID."""
    simulator.set_latency(0.3)
    task_uuid = str(uuid.uuid4())
    async with websockets.connect(ws_url(live_server_url)) as ws:
        session = await authenticate(ws, api_key)
        await ws.send(json.dumps([image_task(taskUUID=task_uuid, numberResults=2)]))
        await eventually(lambda: Task.objects.filter(feature="endpoint").exists())
    assert await eventually(
        lambda: (
            Image.objects.filter(task__feature="endpoint").count() == 2
            and Task.objects.filter(feature="endpoint", finished_at__isnull=False).exists()
        )
    )
    assert await eventually(lambda: cache.get(_drop_key(session_group(user_id, uuid.UUID(session))))), (
        "the server noted the drop"
    )
    return session, task_uuid


async def test_a_resumed_session_is_sent_the_results_that_came_while_it_was_away(live_server_url, simulator):
    member, _, plaintext = await amember_with_key()
    session, task_uuid = await drop_while_a_task_runs(live_server_url, simulator, plaintext, member.pk)

    async with websockets.connect(ws_url(live_server_url)) as ws:
        assert await authenticate(ws, plaintext, session) == session
        frames = await frames_until_pong(ws)

    items = [item for frame in frames for item in frame["data"]]
    assert len(items) == 2
    assert {item["taskUUID"] for item in items} == {task_uuid}
    assert all(
        item["taskType"] == "imageInference" and item["imageURL"].startswith(live_server_url)
        for item in items
    )
    stored = await eventually(
        lambda: set(Image.objects.filter(task__feature="endpoint").values_list("id", flat=True))
    )
    assert {uuid.UUID(item["imageUUID"]) for item in items} == stored


async def test_a_new_session_or_another_members_socket_is_sent_nothing_of_it(live_server_url, simulator):
    member, _, plaintext = await amember_with_key()
    _, _, others = await amember_with_key("bob")
    session, _ = await drop_while_a_task_runs(live_server_url, simulator, plaintext, member.pk)

    async with websockets.connect(ws_url(live_server_url)) as ws:
        assert await authenticate(ws, others, session) == session  # bob names alice's session
        assert await frames_until_pong(ws) == []
    async with websockets.connect(ws_url(live_server_url)) as ws:
        assert await authenticate(ws, plaintext) != session  # alice, in a new session
        assert await frames_until_pong(ws) == []
