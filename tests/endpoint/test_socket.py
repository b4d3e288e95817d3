"""The `/v1` socket as a hand-written client sees it: Runware's frames, errors that keep it open."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid

import pytest
import websockets
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from runware_web.endpoint.consumers import MAX_FRAME_BYTES, EndpointConsumer
from runware_web.upstream.models import Task
from tests.endpoint.helpers import PING, PONG, amember_with_key, answers_and_pong, image_task

pytestmark = pytest.mark.django_db(transaction=True)


async def exchange(ws, message) -> dict:
    await ws.send(message if isinstance(message, str) else json.dumps(message))
    return json.loads(await ws.recv())


def ws_url(live_server_url: str) -> str:
    return live_server_url.replace("http://", "ws://") + "/v1"


async def test_authentication_gives_a_session_and_a_resumed_session_keeps_its_id(live_server_url):
    _, _, plaintext = await amember_with_key()
    async with websockets.connect(ws_url(live_server_url)) as ws:
        first = await exchange(ws, [{"taskType": "authentication", "apiKey": plaintext}])
    session = first["data"][0]["connectionSessionUUID"]
    assert uuid.UUID(session)
    async with websockets.connect(ws_url(live_server_url)) as ws:
        again = await exchange(ws, [{"taskType": "authentication", "apiKey": plaintext, "connectionSessionUUID": session}])
    assert again == {"data": [{"taskType": "authentication", "connectionSessionUUID": session}]}


async def test_ping_gets_a_pong(live_server_url):
    async with websockets.connect(ws_url(live_server_url)) as ws:
        assert await exchange(ws, [{"taskType": "ping", "ping": True}]) == PONG


async def test_a_task_before_authentication_is_refused_and_starts_nothing(live_server_url):
    task_uuid = str(uuid.uuid4())
    async with websockets.connect(ws_url(live_server_url)) as ws:
        answer = await exchange(ws, [image_task(taskUUID=task_uuid)])
    assert answer["errors"][0]["code"] == "missingApiKey"
    assert answer["errors"][0]["taskUUID"] == task_uuid
    assert await database_sync_to_async(Task.objects.count)() == 0


@pytest.mark.parametrize("garbage", [
    "not json", "{", "[]", "42", '"text"', "[1, 2]", '[{"taskType": 7}]', '[{"taskType": "imageInference"}]',
    '[{"taskType": "imageInference", "taskUUID": "nope"}]', json.dumps([{"taskType": "teleport", "taskUUID": str(uuid.uuid4())}]),
])
async def test_a_malformed_frame_gets_a_runware_error_and_the_socket_stays_open(live_server_url, garbage):
    _, _, plaintext = await amember_with_key()
    async with websockets.connect(ws_url(live_server_url)) as ws:
        await exchange(ws, [{"taskType": "authentication", "apiKey": plaintext}])
        await ws.send(garbage)
        await ws.send(PING)
        frames = await answers_and_pong(lambda: asyncio.wait_for(ws.recv(), 10), 1)
    assert frames, "the malformed frame was answered"
    assert all(error["code"] and error["message"] for frame in frames for error in frame["errors"])


async def test_a_frame_over_the_limit_is_refused_and_the_socket_stays_open(transactional_db):
    """The consumer's own limit (Daphne, as the portal runs it, closes larger messages itself)."""
    communicator = WebsocketCommunicator(EndpointConsumer.as_asgi(), "/v1")
    assert (await communicator.connect())[0]
    await communicator.send_to(text_data=json.dumps([image_task(positivePrompt="x" * MAX_FRAME_BYTES)]))
    answer = await communicator.receive_json_from()
    assert answer["errors"][0]["code"] == "maxPayloadSizeExceeded"
    await communicator.send_json_to([{"taskType": "ping", "ping": True}])
    assert await communicator.receive_json_from() == PONG
    await communicator.disconnect()


async def test_the_same_task_uuid_twice_is_a_conflict(live_server_url):
    _, _, plaintext = await amember_with_key()
    task_uuid = str(uuid.uuid4())
    async with websockets.connect(ws_url(live_server_url)) as ws:
        await exchange(ws, [{"taskType": "authentication", "apiKey": plaintext}])
        first = await exchange(ws, [image_task(taskUUID=task_uuid, deliveryMethod="async")])
        assert first == {"data": [{"taskType": "imageInference", "taskUUID": task_uuid}]}
        again = await exchange(ws, [image_task(taskUUID=task_uuid, deliveryMethod="async")])
    assert again["errors"][0]["code"] == "conflictTaskUUID"


async def test_the_portals_runware_key_never_reaches_the_script(live_server_url, settings):
    _, _, plaintext = await amember_with_key()
    frames = []
    async with websockets.connect(ws_url(live_server_url)) as ws:
        frames.append(await exchange(ws, [{"taskType": "authentication", "apiKey": plaintext}]))
        task_uuid = str(uuid.uuid4())
        await ws.send(json.dumps([image_task(taskUUID=task_uuid)]))
        frames.append(json.loads(await ws.recv()))
        frames.append(await exchange(ws, [{"taskType": "accountManagement", "taskUUID": str(uuid.uuid4()), "operation": "getDetails"}]))
    assert frames[1]["data"][0]["taskUUID"] == task_uuid
    text = json.dumps(frames)
    assert settings.RUNWARE_API_KEY not in text if settings.RUNWARE_API_KEY else "apiKey" not in text


async def test_streaming_over_the_socket_is_a_validation_error_pointing_to_http(live_server_url):
    _, _, plaintext = await amember_with_key()
    task = {"taskType": "textInference", "taskUUID": str(uuid.uuid4()), "model": "google:gemma@4-31b",
            "deliveryMethod": "stream", "messages": [{"role": "user", "content": "hi"}]}
    async with websockets.connect(ws_url(live_server_url)) as ws:
        await exchange(ws, [{"taskType": "authentication", "apiKey": plaintext}])
        answer = await exchange(ws, [task])
    assert answer["errors"][0]["parameter"] == "deliveryMethod"
    assert "HTTP" in answer["errors"][0]["message"]
    assert await database_sync_to_async(Task.objects.count)() == 0


async def test_a_frame_is_answered_while_the_workers_sync_thread_is_busy(transactional_db):
    """The sync thread is the one the worker's requests and sockets share for their database
    calls: a frame that needs no database is answered without waiting for it (Channels' own
    dispatch waits on it before every message, which held a script's tasks up behind others' work)."""
    busy = threading.Event()
    held = asyncio.ensure_future(sync_to_async(busy.wait, thread_sensitive=True)(10))
    communicator = WebsocketCommunicator(EndpointConsumer.as_asgi(), "/v1")
    try:
        assert (await communicator.connect(timeout=2))[0]
        await communicator.send_to(text_data=PING)
        assert json.loads(await communicator.receive_from(timeout=2)) == PONG
        assert not held.done()
    finally:
        busy.set()
        await held
        await communicator.disconnect()
