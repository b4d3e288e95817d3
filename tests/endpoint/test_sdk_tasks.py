"""Text inference (streamed and not), prompt enhancement, caption and the image tools, driven by the
official runware-sdk 1.8.0 pointed at the portal: each is a Task of the member's with its charge,
and the SDK gets back what it would get from Runware.
"""

from __future__ import annotations

import aiohttp
import pytest
from channels.db import database_sync_to_async
from runware import RunwareError

from runware_web.endpoint.models import EndpointCall, TextOutput
from runware_web.media.models import Image
from runware_web.money.models import Charge
from runware_web.upstream.models import Task
from tests.endpoint.helpers import amember_with_key, eventually, image_task, sdk

pytestmark = pytest.mark.django_db(transaction=True)

TEXT_MODEL = "google:gemma@4-31b"


def text_task(**extra) -> dict:
    return {"taskType": "textInference", "model": TEXT_MODEL, "deliveryMethod": "sync",
            "messages": [{"role": "user", "content": "Say hello"}], "settings": {"maxTokens": 200}, **extra}


async def ended(member) -> list[tuple[str, str, str, int, int]]:
    """The member's tasks once ended: (feature, task type, status, results, charges)."""
    await eventually(lambda: not Task.objects.filter(user=member, finished_at__isnull=True).exists())

    def rows():
        return [(task.feature, task.task_type, task.status, task.results_received,
                 Charge.objects.filter(task=task).count())
                for task in Task.objects.filter(user=member).order_by("created_at")]

    return await database_sync_to_async(rows)()


@pytest.fixture
def slow_stream(simulator):
    """Chunks 30 ms apart, so that a reply streams over several events."""
    simulator.set_stream_chunk_delay(0.03)
    yield
    simulator.set_stream_chunk_delay(0.0)


@pytest.mark.parametrize("transport", ["websocket", "rest"])
async def test_text_inference_answers_the_reply_and_is_charged_to_the_member(live_server_url, transport):
    member, _, plaintext = await amember_with_key()
    async with sdk(live_server_url, plaintext, transport=transport) as client:
        results = await client.run(text_task())

    assert len(results) == 1
    assert "Gemma" in results[0]["text"]
    assert results[0]["finishReason"] == "stop"
    assert results[0]["usage"]["completionTokens"] > 0 and results[0]["cost"] > 0
    assert await ended(member) == [("endpoint", "textInference", "done", 1, 1)]
    kept = await database_sync_to_async(lambda: list(TextOutput.objects.values_list("item", flat=True)))()
    assert [item["text"] for item in kept] == [results[0]["text"]]


async def test_text_inference_with_the_sdks_default_async_delivery_is_polled_to_its_reply(live_server_url):
    member, _, plaintext = await amember_with_key()
    task = text_task()
    del task["deliveryMethod"]
    async with sdk(live_server_url, plaintext) as client:
        results = await client.run(task)
    assert "Gemma" in results[0]["text"]
    assert await ended(member) == [("endpoint", "textInference", "done", 1, 1)]


async def test_a_streamed_reply_arrives_in_pieces_and_is_charged_once(live_server_url, slow_stream):
    member, key, plaintext = await amember_with_key(key_name="chat bot")
    async with sdk(live_server_url, plaintext, transport="rest") as client:
        stream = await client.stream(text_task())
        pieces = [piece async for piece in stream.text_stream]
        result = await stream.result()

    assert len(pieces) > 1  # it streamed: several events, not one answer at the end
    assert "".join(pieces) == result.text and "Gemma" in result.text
    assert result.finish_reason == "stop"
    assert result.cost > 0 and result.usage["completionTokens"] > 0
    assert await ended(member) == [("endpoint", "textInference", "done", 1, 1)]
    call = await database_sync_to_async(EndpointCall.objects.get)(user=member)
    assert call.key_name == "chat bot" and str(call.client_task_uuid) == result.task_uuid
    kept = await database_sync_to_async(lambda: TextOutput.objects.get(task_id=call.task_id).item)()
    assert kept["text"] == result.text


async def test_a_streamed_reply_over_the_budget_is_refused_before_it_starts(live_server_url):
    member, _, plaintext = await amember_with_key()
    await database_sync_to_async(type(member).objects.filter(pk=member.pk).update)(monthly_budget="0")
    async with sdk(live_server_url, plaintext, transport="rest") as client:
        stream = await client.stream(text_task())
        with pytest.raises(RunwareError) as refused:
            await stream.result()
    assert refused.value.code == "quota"
    assert await database_sync_to_async(Task.objects.count)() == 0


async def test_streaming_more_than_one_task_in_a_request_is_a_validation_error(live_server_url):
    _, _, plaintext = await amember_with_key()
    streamed = text_task(deliveryMethod="stream", taskUUID="6f0c7c3e-56ac-4ec1-8b8c-6f8f0d3c1a11")
    other = text_task(taskUUID="6f0c7c3e-56ac-4ec1-8b8c-6f8f0d3c1a12")
    async with aiohttp.ClientSession() as session, session.post(
        live_server_url + "/v1", json=[streamed, other], headers={"Authorization": f"Bearer {plaintext}"}
    ) as response:
        body = await response.json()
    assert response.status == 400 and body["errors"][0]["parameter"] == "deliveryMethod"
    assert await database_sync_to_async(Task.objects.count)() == 0


async def test_prompt_enhancement_answers_every_version(live_server_url):
    member, _, plaintext = await amember_with_key()
    async with sdk(live_server_url, plaintext) as client:
        results = await client.run({"taskType": "promptEnhance", "model": "runware:llama-3-1-8b@prompt-enhancer",
                                    "prompt": "a lighthouse", "promptVersions": 3, "promptMaxLength": 120,
                                    "deliveryMethod": "sync"})
    assert len({item["text"] for item in results}) == 3
    assert all("lighthouse" in item["text"] for item in results)
    assert await ended(member) == [("endpoint", "promptEnhance", "done", 3, 3)]


async def test_caption_and_the_image_tools_run_on_an_image_the_portal_returned(live_server_url):
    member, _, plaintext = await amember_with_key()
    async with sdk(live_server_url, plaintext) as client:
        [image] = await client.run(image_task())
        source = image["imageUUID"]
        [caption] = await client.run({"taskType": "caption", "model": "runware:150@2",
                                      "inputs": {"image": source}, "deliveryMethod": "sync"})
        [upscaled] = await client.run({"taskType": "upscale", "model": "runware:504@1", "upscaleFactor": 2,
                                       "inputs": {"image": source}, "deliveryMethod": "sync"})
        [cut_out] = await client.run({"taskType": "removeBackground", "model": "runware:109@1",
                                      "inputs": {"image": source}})  # the SDK's default: async, then polled

    assert "512x512" in caption["text"]
    assert await ended(member) == [
        ("endpoint", "imageInference", "done", 1, 1),
        ("endpoint", "caption", "done", 1, 1),
        ("endpoint", "upscale", "done", 1, 1),
        ("endpoint", "removeBackground", "done", 1, 1),
    ]
    gallery = await database_sync_to_async(lambda: {str(image.pk): (image.kind, image.width)
                                                    for image in Image.objects.filter(user=member)})()
    assert gallery[upscaled["imageUUID"]] == (Image.Kind.UPSCALED, 1024)
    assert gallery[cut_out["imageUUID"]][0] == Image.Kind.BACKGROUND_REMOVED
    async with aiohttp.ClientSession() as session, session.get(upscaled["imageURL"]) as response:
        assert response.status == 200 and response.headers["Content-Type"].startswith("image/")


async def test_a_tool_on_another_members_image_is_a_validation_error(live_server_url):
    _, _, mallory_key = await amember_with_key("mallory")
    _, _, alice_key = await amember_with_key("alice")
    async with sdk(live_server_url, mallory_key) as client:
        [theirs] = await client.run(image_task())
    with pytest.raises(RunwareError) as refused:
        async with sdk(live_server_url, alice_key) as client:
            await client.run({"taskType": "upscale", "model": "runware:504@1", "upscaleFactor": 2,
                              "inputs": {"image": theirs["imageUUID"]}, "deliveryMethod": "sync"})
    assert refused.value.code == "validation" and refused.value.parameter == "image"
