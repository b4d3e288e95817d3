"""textInference (sync, async, SSE streaming), promptEnhance and captions."""

from __future__ import annotations

import itertools
import time
from decimal import Decimal

import aiohttp
import pytest
from runware import RunwareError

from runware_web.simulator import pricing

from .helpers import TRANSPORTS, data_uri, new_uuid, solid, upload


def chat(content: str, **overrides: object) -> dict[str, object]:
    task: dict[str, object] = {
        "taskType": "textInference",
        "model": "google:gemma@4-31b",
        "messages": [{"role": "user", "content": content}],
        "deliveryMethod": "sync",
    }
    task.update(overrides)
    return task


@TRANSPORTS
@pytest.mark.parametrize("delivery", ["sync", "async"])
async def test_text_inference_answers_the_last_message(connect, transport, delivery):
    [item] = await connect(transport).run(chat("Tell me about lighthouses", deliveryMethod=delivery))
    assert "lighthouses" in item["text"]
    assert item["finishReason"] == "stop"
    usage = item["usage"]
    assert usage["totalTokens"] == usage["promptTokens"] + usage["completionTokens"] > 0
    assert Decimal(str(item["cost"])) == pricing.text_cost(usage["promptTokens"], usage["completionTokens"])


async def test_markdown_list_and_code_block_when_asked(connect):
    [item] = await connect().run(chat("Give me a list of steps and a python function to sort pancakes"))
    assert "1. " in item["text"] and "2. " in item["text"]
    assert "```python" in item["text"]


async def test_max_tokens_cuts_the_reply(connect):
    [item] = await connect().run(chat("Explain sailing", settings={"maxTokens": 5}))
    assert item["finishReason"] == "length"
    assert len(item["text"].split()) == 5


async def test_conversation_history_and_several_results(connect):
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hello"},
        {"role": "assistant", "content": "Hi!"},
        {"role": "user", "content": "What about volcanoes?"},
    ]
    items = await connect().run(chat("", messages=messages, numberResults=2))
    assert [item["resultIndex"] for item in items] == [0, 1]
    assert all("volcanoes" in item["text"] for item in items)


async def test_thinking_models_return_reasoning(connect):
    [item] = await connect("rest").run(chat("Why is the sky blue?", model="minimax:m2.7@0"))
    assert item["reasoningContent"]
    assert item["usage"]["thinkingTokens"] > 0


@TRANSPORTS
async def test_an_image_model_cannot_chat(connect, transport):
    with pytest.raises(RunwareError) as caught:
        await connect(transport).run(chat("hi", model="runware:101@1"))
    assert (caught.value.code, caught.value.parameter) == ("validation", "model")


@TRANSPORTS
async def test_text_validation(connect, transport):
    with pytest.raises(RunwareError) as caught:
        await connect(transport).run(chat("hi", settings={"maxTokens": 0}))
    assert (caught.value.code, caught.value.parameter) == ("validation", "settings.maxTokens")
    with pytest.raises(RunwareError) as caught:
        await connect(transport).run(chat("hi", messages=[{"role": "robot", "content": "x"}]))
    assert (caught.value.code, caught.value.parameter) == ("validation", "messages[0].role")


# ----------------------------------------------------------------------- streaming


@TRANSPORTS
async def test_stream_delivers_many_chunks_over_time(connect, sim, transport):
    sim.stream_chunk_delay = 0.01
    stream = await connect(transport).stream(chat("Give me a list of tips for sailing", deliveryMethod=None))
    arrivals: list[float] = []
    pieces: list[str] = []
    async for piece in stream.text_stream:
        arrivals.append(time.monotonic())
        pieces.append(piece)
    result = await stream.result()
    assert len(pieces) >= 30
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    assert sum(gap >= 0.005 for gap in gaps) >= len(gaps) // 2  # chunks trickle in, not all at once
    assert result.text == "".join(pieces) and "sailing" in result.text
    assert result.finish_reason == "stop"
    assert result.usage["totalTokens"] == result.usage["promptTokens"] + result.usage["completionTokens"]
    assert result.cost > 0 and result.task_uuid


async def test_stream_of_a_thinking_model_has_reasoning_chunks(connect):
    stream = await connect("rest").stream(
        chat("Why do cats purr?", model="minimax:m2.7@0", deliveryMethod=None)
    )
    reasoning = [piece async for piece in stream.reasoning_stream]
    result = await stream.result()
    assert len(reasoning) > 5 and result.reasoning_content == "".join(reasoning)
    assert result.text


async def test_stream_respects_max_tokens(connect):
    stream = await connect("rest").stream(
        chat("Explain tides", settings={"maxTokens": 7}, deliveryMethod=None)
    )
    result = await stream.result()
    assert result.finish_reason == "length" and len(result.text.split()) == 7


async def test_a_failure_mid_stream_raises_after_some_text(connect, sim):
    stream = await connect("rest").stream(
        chat("[sim:fail=providerTimeout] Explain tides", deliveryMethod=None)
    )
    pieces = []
    with pytest.raises(RunwareError) as caught:
        async for piece in stream.text_stream:
            pieces.append(piece)
    assert caught.value.code == "timeout"
    assert pieces
    assert sim.total_charged == 0


async def test_a_dropped_stream_is_cut_but_completes_server_side(connect, sim):
    stream = await connect("rest").stream(chat("[sim:drop=4] Explain tides", deliveryMethod=None))
    pieces = []
    with pytest.raises(aiohttp.ClientPayloadError):  # the SDK surfaces the cut body as aiohttp's error
        async for piece in stream.text_stream:
            pieces.append(piece)
    assert len(pieces) == 4
    assert sim.total_charged > 0  # the generation finished (and was billed) on the server


async def test_stream_validation_error_is_an_http_error(connect):
    stream = await connect("rest").stream(chat("hi", model="runware:101@1", deliveryMethod=None))
    with pytest.raises(RunwareError) as caught:
        await stream.result()
    assert (caught.value.code, caught.value.status_code, caught.value.parameter) == (
        "validation",
        400,
        "model",
    )


async def test_raw_sse_format(sim):
    task_uuid = new_uuid()
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            sim.http_url,
            headers={"Authorization": "Bearer k", "Accept": "text/event-stream"},
            json=[chat("hello", taskUUID=task_uuid, deliveryMethod="stream")],
        ) as response,
    ):
        assert response.headers["Content-Type"].startswith("text/event-stream")
        body = (await response.read()).decode()
    events = [line for line in body.split("\n\n") if line]
    assert all(event.startswith("data: ") for event in events)
    assert events[-1] == "data: [DONE]"
    assert '"finishReason": "stop"' in events[-2] and task_uuid in events[-2]


async def test_streamed_text_is_retrievable_afterwards(connect):
    client = connect("rest")
    result = await (await client.stream(chat("Describe a harbour", deliveryMethod=None))).result()
    [item] = await client.get_response({"taskUUID": result.task_uuid})  # stream() picks its own taskUUID
    assert item["status"] == "success" and item["text"] == result.text


# ------------------------------------------------------------------- promptEnhance


@TRANSPORTS
@pytest.mark.parametrize("delivery", ["sync", "async"])
async def test_prompt_enhance_returns_every_version(connect, transport, delivery):
    client = connect(transport)
    task = {
        "taskType": "promptEnhance",
        "model": "runware:llama-3-1-8b@prompt-enhancer",
        "prompt": "a cat on a roof",
        "promptVersions": 4,
        "promptMaxLength": 70,
        "deliveryMethod": delivery,
    }
    first = await client.run(task)
    again = await client.run(task)
    for items in (first, again):
        texts = [item["text"] for item in items]
        assert len(set(texts)) == 4
        assert all(len(text) <= 70 and "cat on a roof" in text for text in texts)
        assert [item["resultIndex"] for item in items] == [0, 1, 2, 3]
    assert {i["text"] for i in first}.isdisjoint({i["text"] for i in again})  # asking again: fresh ideas


async def test_prompt_enhance_legacy_form_without_model(connect):
    [item] = await connect().run(
        {
            "taskType": "promptEnhance",
            "prompt": "a dog",
            "promptVersions": 1,
            "promptMaxLength": 300,
            "deliveryMethod": "sync",
        }
    )
    assert item["text"].startswith("a dog")


# ------------------------------------------------------------------------- caption


@TRANSPORTS
async def test_caption_describes_the_pixels(connect, transport):
    client = connect(transport)
    image = await upload(client, solid((210, 20, 20), (512, 256)))
    [item] = await client.run(
        {
            "taskType": "caption",
            "model": "runware:152@1",
            "inputs": {"image": image},
            "prompt": "what colour is it?",
            "deliveryMethod": "sync",
        }
    )
    assert "landscape" in item["text"] and "512x256" in item["text"] and "red" in item["text"]
    assert item["cost"] == float(pricing.CAPTION)


async def test_legacy_image_caption(connect):
    [item] = await connect().run(
        {"taskType": "imageCaption", "inputImage": data_uri(solid((10, 10, 10))), "deliveryMethod": "async"}
    )
    assert item["taskType"] == "imageCaption" and "dark" in item["text"]
