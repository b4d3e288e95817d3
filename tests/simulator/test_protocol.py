"""Wire protocol: authentication, sessions, delivery methods, polling, drops and robustness."""

from __future__ import annotations

import asyncio
import json
import time
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
import websockets
from runware import RunOptions, Runware, RunwareError

from runware_web.simulator.server import Simulator, run_in_thread

from .helpers import TRANSPORTS, image_task, new_uuid

_TERMINAL_KEYS = ("text", "structuredData", "outputs", "air", "result")


async def _raw(ws: Any) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), 5))


async def _authenticated(url: str, session_uuid: str | None = None) -> tuple[Any, str]:
    ws = await websockets.connect(url)
    auth: dict[str, Any] = {"taskType": "authentication", "apiKey": "test-key"}
    if session_uuid:
        auth["connectionSessionUUID"] = session_uuid
    await ws.send(json.dumps([auth]))
    reply = await _raw(ws)
    return ws, reply["data"][0]["connectionSessionUUID"]


@TRANSPORTS
async def test_a_bad_key_is_an_auth_error(connect, transport):
    with pytest.raises(RunwareError) as caught:
        await connect(transport, api_key="bad-key").run(image_task())
    assert caught.value.code == "auth"
    assert "Invalid API key" in caught.value.message


async def test_bad_key_frames_and_http_status(sim):
    async with websockets.connect(sim.ws_url) as ws:
        await ws.send(json.dumps([{"taskType": "authentication", "apiKey": "bad-one"}]))
        assert await _raw(ws) == {
            "errors": [
                {
                    "code": "invalidApiKey",
                    "message": "Invalid API key. Get one at https://my.runware.ai/signup",
                    "parameter": "apiKey",
                    "taskType": "authentication",
                }
            ]
        }
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            sim.http_url, json=[image_task(taskUUID=new_uuid())], headers={"Authorization": "Bearer bad-key"}
        ) as response,
    ):
        assert response.status == 401
        assert (await response.json())["errors"][0]["code"] == "invalidApiKey"


async def test_ping_pong_and_malformed_json_keep_the_socket_alive(sim):
    ws, _ = await _authenticated(sim.ws_url)
    async with ws:
        await ws.send(json.dumps([{"taskType": "ping", "ping": True}]))
        assert await _raw(ws) == {"data": [{"taskType": "ping", "pong": True}]}
        await ws.send("{not json")
        error = (await _raw(ws))["errors"][0]
        assert error["code"] == "invalidJSON" and error["taskUUID"]
        await ws.send(json.dumps([{"taskType": "ping", "ping": True}]))
        assert (await _raw(ws))["data"][0]["pong"] is True


async def test_several_tasks_in_one_message_each_get_answers(sim):
    ws, _ = await _authenticated(sim.ws_url)
    async with ws:
        first, second, third = new_uuid(), new_uuid(), new_uuid()
        await ws.send(
            json.dumps(
                [
                    image_task(taskUUID=first),
                    image_task(taskUUID=second, width=100),
                    {"taskType": "modelSearch", "taskUUID": third, "limit": 1},
                ]
            )
        )
        frames = [await _raw(ws) for _ in range(3)]
        data = {item["taskUUID"] for frame in frames for item in frame.get("data", [])}
        errors = {error["taskUUID"]: error for frame in frames for error in frame.get("errors", [])}
        assert data == {first, third}
        assert errors[second]["code"] == "invalidWidth"
        assert errors[second]["taskType"] == "imageInference" and errors[second]["parameter"] == "width"


async def test_errors_always_carry_a_task_uuid_on_the_websocket(sim):
    ws, _ = await _authenticated(sim.ws_url)
    async with ws:
        await ws.send(
            json.dumps(
                [{"taskType": "imageInference"}, {"taskType": "vectorize", "taskUUID": new_uuid()}]
            )
        )
        errors = [(await _raw(ws))["errors"][0] for _ in range(2)]
        assert {e["code"] for e in errors} == {"missingTaskUUID", "unsupportedTaskType"}
        assert all(e["taskUUID"] for e in errors)


async def test_session_resume_delivers_buffered_results(sim):
    sim.latency = 0.05
    ws, session_uuid = await _authenticated(sim.ws_url)
    task_uuid = new_uuid()
    await ws.send(json.dumps([image_task(taskUUID=task_uuid, numberResults=2)]))
    await ws.close()  # gone before any result is ready
    job = sim.engine.jobs.get(task_uuid)
    assert job is not None
    await asyncio.wait_for(job.finished.wait(), 5)
    resumed, echoed = await _authenticated(sim.ws_url, session_uuid)
    async with resumed:
        assert echoed == session_uuid
        frames = [await _raw(resumed) for _ in range(2)]
        assert {frame["data"][0]["taskUUID"] for frame in frames} == {task_uuid}
        assert len({frame["data"][0]["imageUUID"] for frame in frames}) == 2


async def test_an_unknown_session_gets_a_fresh_one(sim):
    ws, session_uuid = await _authenticated(sim.ws_url, "f40c2aeb-f8a7-4af7-a1ab-7594c9bf778f")
    await ws.close()
    assert session_uuid != "f40c2aeb-f8a7-4af7-a1ab-7594c9bf778f"


async def test_async_processing_items_look_unfinished(sim):
    """A getResponse answer while the task runs: status processing, integer progress, nothing terminal."""
    sim.latency = 0.5
    task_uuid = new_uuid()
    headers = {"Authorization": "Bearer test-key"}
    async with aiohttp.ClientSession() as session:
        async with session.post(
            sim.http_url,
            headers=headers,
            json=[image_task(taskUUID=task_uuid, numberResults=2, deliveryMethod="async")],
        ) as r:
            assert await r.json() == {"data": [{"taskType": "imageInference", "taskUUID": task_uuid}]}
        async with session.post(
            sim.http_url, headers=headers, json=[{"taskType": "getResponse", "taskUUID": task_uuid}]
        ) as r:
            items = (await r.json())["data"]
    assert [item["status"] for item in items] == ["processing", "processing"]
    for item in items:
        assert isinstance(item["progress"], int) and item["imageUUID"]
        assert not any(
            key.endswith(("URL", "Base64Data", "DataURI")) or key in _TERMINAL_KEYS for key in item
        )


@TRANSPORTS
async def test_get_response_is_cumulative_and_shared_across_connections(connect, transport):
    producer, reader = connect(transport), connect("rest" if transport == "websocket" else "websocket")
    task_uuid = new_uuid()
    await producer.run(image_task(taskUUID=task_uuid, numberResults=2))
    items = await reader.get_response({"taskUUID": task_uuid})
    assert [item["status"] for item in items] == ["success", "success"]
    assert all(item["taskUUID"] == task_uuid and item["imageURL"] for item in items)
    [details] = await reader.get_task_details({"taskUUID": task_uuid})
    assert details["request"][0]["positivePrompt"] == "a lighthouse at dusk"
    assert len(details["response"]["data"]) == 2


@TRANSPORTS
async def test_unknown_task_uuid_is_not_found(connect, transport):
    task_uuid = new_uuid()
    with pytest.raises(RunwareError) as caught:
        await connect(transport).get_response({"taskUUID": task_uuid})
    assert caught.value.code == "notFound" and caught.value.task_uuid == task_uuid


async def test_failed_tasks_are_reported_by_get_response(connect):
    client = connect("rest")  # the SDK's REST get_response returns error items as they are
    task_uuid = new_uuid()
    with pytest.raises(RunwareError):
        await client.run(image_task("[sim:fail=inferenceError] x", taskUUID=task_uuid))
    [item] = await client.get_response({"taskUUID": task_uuid})
    assert item["status"] == "error" and item["error"]["code"] == "inferenceError"
    assert item["error"]["taskUUID"] == task_uuid
    with pytest.raises(RunwareError) as caught:  # its WebSocket path raises for them
        await connect().get_response({"taskUUID": task_uuid})
    assert caught.value.code == "provider"


@TRANSPORTS
async def test_reusing_a_task_uuid_is_a_conflict(connect, transport):
    client = connect(transport)
    task_uuid = new_uuid()
    await client.run(image_task(taskUUID=task_uuid))
    with pytest.raises(RunwareError) as caught:
        await client.run(image_task(taskUUID=task_uuid))
    assert (caught.value.code, caught.value.parameter) == ("validation", "taskUUID")


async def test_delay_directive_sets_the_per_result_delay(connect):
    start = time.monotonic()
    items = await connect().run(image_task("[sim:delay=0.2] slow boat", numberResults=2))
    assert time.monotonic() - start >= 0.4
    assert len(items) == 2


@pytest.mark.parametrize("drop", [0, 1])
async def test_an_async_task_survives_a_dropped_connection(connect, sim, drop):
    client = connect()
    items = await client.run(
        image_task(f"[sim:drop={drop}] two boats", numberResults=2, deliveryMethod="async")
    )
    assert len({item["imageUUID"] for item in items}) == 2
    assert sim.websocket_connections == 2  # the SDK reconnected once


async def test_a_sync_task_dropped_before_its_results_is_lost_then_recovered(connect, sim):
    client = connect()
    task_uuid = new_uuid()
    with pytest.raises(RunwareError) as caught:
        await client.run(image_task("[sim:drop=0] three boats", taskUUID=task_uuid, numberResults=3))
    assert caught.value.code == "connection"
    items = await _all_finished(client, task_uuid)
    assert len({item["imageUUID"] for item in items}) == 3
    assert sim.websocket_connections == 2


async def test_a_sync_task_dropped_midway_completes_through_session_resume(connect, sim):
    items = await connect().run(image_task("[sim:drop=1] three boats", numberResults=3))
    assert len({item["imageUUID"] for item in items}) == 3
    assert sim.websocket_connections == 2


async def _all_finished(client: Runware, task_uuid: str) -> list[dict[str, Any]]:
    """Poll getResponse until every result is finished (the task keeps running server-side)."""
    for _ in range(100):
        items = await client.get_response({"taskUUID": task_uuid})
        if all(item["status"] == "success" for item in items):
            return items
        await asyncio.sleep(0.05)
    raise AssertionError("the task did not finish")


async def test_many_concurrent_tasks_and_sockets(connect, sim):
    sim.latency = 0.02
    clients = [connect() for _ in range(4)] + [connect("rest") for _ in range(2)]
    runs = [
        client.run(image_task(f"boat {i}", numberResults=2, seed=i + 1, width=128, height=128))
        for i in range(30)
        for client in [clients[i % len(clients)]]
    ]
    results = await asyncio.gather(*runs)
    assert all(len(items) == 2 for items in results)
    assert len({item["imageUUID"] for items in results for item in items}) == 60


def test_run_in_thread_serves_other_event_loops():
    handle = run_in_thread(latency=0.3, starting_balance=Decimal("5"))
    try:
        handle.set_latency(0)

        async def use() -> list[dict[str, Any]]:
            async with Runware(
                api_key="test-key", ws_base_url=handle.ws_url, http_base_url=handle.http_url
            ) as c:
                return await c.run(image_task())

        [item] = asyncio.run(use())
        assert handle.total_charged() == Decimal(str(item["cost"]))
        assert handle.balance() == Decimal("5") - handle.total_charged()
        assert handle.http_url == f"http://127.0.0.1:{handle.port}/v1"
    finally:
        handle.stop()


async def test_file_and_health_endpoints(sim, connect, fetch):
    [search] = await connect().model_search({"category": "lora", "limit": 1})
    hero = await fetch(search["results"][0]["heroImage"])
    assert hero[:3] == b"\xff\xd8\xff"
    assert b'"status": "ok"' in await fetch(f"{sim.base_url}/health")


async def test_stop_is_clean_with_connected_clients_and_running_tasks():
    simulator = Simulator(latency=5)
    await simulator.start()
    client = Runware(api_key="k", ws_base_url=simulator.ws_url, http_base_url=simulator.http_url)
    await client.connect()
    pending = asyncio.ensure_future(client.run(image_task(), RunOptions(timeout=20_000)))
    await asyncio.sleep(0)
    await simulator.stop()
    pending.cancel()
    await client.close()
