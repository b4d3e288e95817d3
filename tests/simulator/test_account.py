"""Money, fault injection, the model catalogue and modelSearch."""

from __future__ import annotations

from decimal import Decimal

import pytest
from runware import RunwareError, models

from runware_web.simulator import catalog, pricing
from runware_web.simulator.server import Simulator

from .helpers import TRANSPORTS, data_uri, image_task, square_on_white


async def _balance(client) -> Decimal:
    [details] = await client.account_management({"operation": "getDetails"})
    return Decimal(str(details["balance"]))


@TRANSPORTS
async def test_balance_goes_down_by_exactly_what_was_charged(connect, sim, transport):
    client = connect(transport)
    start = await _balance(client)
    assert start == Decimal("1000")
    results = []
    results += await client.run(image_task(numberResults=3, width=1024, height=768, steps=28))
    results += await client.run(
        {
            "taskType": "textInference",
            "model": "openai:gpt@5-mini",
            "deliveryMethod": "sync",
            "messages": [{"role": "user", "content": "Explain tides"}],
        }
    )
    results += await client.run(
        {
            "taskType": "upscale",
            "model": "runware:500@1",
            "upscaleFactor": 2.5,
            "inputs": {"image": data_uri(square_on_white(200))},
            "deliveryMethod": "sync",
        }
    )
    results += await client.run(
        {
            "taskType": "removeBackground",
            "model": "runware:109@1",
            "deliveryMethod": "sync",
            "inputs": {"image": data_uri(square_on_white())},
        }
    )
    stream = await client.stream(
        {
            "taskType": "textInference",
            "model": "google:gemma@4-31b",
            "messages": [{"role": "user", "content": "Write a haiku"}],
        }
    )
    streamed = await stream.result()
    charged = sum((Decimal(str(item["cost"])) for item in results), Decimal(0)) + Decimal(str(streamed.cost))
    assert await _balance(client) == start - charged
    assert sim.total_charged == charged
    assert results[0]["cost"] == float(
        pricing.image_cost(width=1024, height=768, steps=28, adapters=0, controlnets=0, refiner=False)
    )


@pytest.mark.parametrize(
    "code, stable",
    [
        ("insufficientCredits", "quota"),
        ("contentPolicyViolation", "safety"),
        ("providerTimeout", "timeout"),
        ("inferenceError", "provider"),
        ("invalidModel", "validation"),
    ],
)
@TRANSPORTS
async def test_fail_directives_map_to_stable_codes_and_cost_nothing(connect, sim, transport, code, stable):
    with pytest.raises(RunwareError) as caught:
        await connect(transport).run(image_task(f"a cat [sim:fail={code}]", numberResults=2))
    assert caught.value.code == stable
    assert sim.total_charged == 0


@TRANSPORTS
async def test_fail_directives_with_async_delivery(connect, sim, transport):
    with pytest.raises(RunwareError) as caught:
        await connect(transport).run(
            image_task("[sim:fail=contentPolicyViolation] a cat", deliveryMethod="async")
        )
    assert caught.value.code == "safety"
    assert sim.total_charged == 0


async def test_fail_directive_in_prompt_enhance_and_caption(connect):
    client = connect("rest")
    with pytest.raises(RunwareError) as caught:
        await client.run(
            {
                "taskType": "promptEnhance",
                "prompt": "[sim:fail=contentPolicyViolation] x y",
                "deliveryMethod": "sync",
            }
        )
    assert caught.value.code == "safety"
    with pytest.raises(RunwareError) as caught:
        await client.run(
            {
                "taskType": "caption",
                "model": "runware:150@2",
                "prompt": "[sim:fail=providerTimeout] hi",
                "inputs": {"image": data_uri(square_on_white())},
                "deliveryMethod": "sync",
            }
        )
    assert caught.value.code == "timeout"


async def test_directives_are_stripped_before_rendering_and_echoing(connect):
    [item] = await connect().run(
        {
            "taskType": "textInference",
            "model": "google:gemma@4-31b",
            "deliveryMethod": "sync",
            "messages": [{"role": "user", "content": "[sim:delay=0] Explain volcanoes"}],
        }
    )
    assert "sim:" not in item["text"]


async def test_a_malformed_directive_is_a_validation_error(connect):
    with pytest.raises(RunwareError) as caught:
        await connect().run(image_task("a cat [sim:delay=soon]"))
    assert (caught.value.code, caught.value.parameter) == ("validation", "positivePrompt")


async def test_an_exhausted_balance_refuses_tasks(connect):
    poor = Simulator(latency=0, starting_balance=Decimal("0.001"))
    await poor.start()
    try:
        from runware import Runware

        async with Runware(
            api_key="k", ws_base_url=poor.ws_url, http_base_url=poor.http_url, transport="rest"
        ) as client:
            with pytest.raises(RunwareError) as caught:
                await client.run(image_task(width=1024, height=1024, steps=30))
            assert (caught.value.code, caught.value.status_code) == ("quota", 402)
    finally:
        await poor.stop()


# ---------------------------------------------------------------------- catalogue


def test_every_bundled_sdk_model_is_known_with_its_task_type():
    for air, entry in models.items():
        model = catalog.get_model(air)
        assert model is not None and model.task_type == entry.task_type, air


def test_default_models_exist_and_match_their_task_type():
    for task_type in (
        "imageInference",
        "textInference",
        "caption",
        "upscale",
        "removeBackground",
        "imageMasking",
        "controlNetPreprocess",
        "promptEnhance",
        "videoInference",
        "audioInference",
        "3dInference",
    ):
        airs = catalog.default_models(task_type)
        assert airs, task_type
        assert all(catalog.get_model(air).task_type == task_type for air in airs)
    assert catalog.default_models("imageUpscale") == catalog.default_models("upscale")
    assert catalog.default_models("vectorize") == []


def test_community_catalogue_shape():
    community = [m for m in catalog.all_models() if m.source == "community"]
    assert len(community) >= 200
    assert {m.architecture for m in community} >= {"sdxl", "sd1x", "flux1d", "pony", "sd3"}
    assert {m.category for m in community} >= {"checkpoint", "lora", "controlnet", "vae", "embeddings"}
    assert any(m.nsfw for m in community)
    assert all(m.positive_trigger_words for m in community if m.category == "lora")
    assert all(m.defaults is not None for m in community if m.category == "checkpoint")


@TRANSPORTS
async def test_model_search_pages_through_the_catalogue(connect, transport):
    client = connect(transport)
    seen: list[str] = []
    offset, total = 0, None
    while total is None or offset < total:
        [page] = await client.model_search({"limit": 100, "offset": offset, "sort": "name"})
        total = page["totalResults"]
        seen += [model["air"] for model in page["results"]]
        offset += 100
    assert total >= 200 + len(models)
    assert len(seen) == len(set(seen)) == total


async def test_model_search_filters(connect):
    client = connect()

    async def search(**query: object) -> dict:
        return (await client.model_search(query))[0]

    loras = await search(category="lora", architecture="sdxl", limit=100)
    assert loras["totalResults"] == len(loras["results"]) > 0
    assert all(
        m["category"] == "lora" and m["architecture"] == "sdxl" and m["positiveTriggerWords"]
        for m in loras["results"]
    )
    checkpoints = await search(category="checkpoint", type="inpainting", source="community")
    assert checkpoints["results"] and all(m["type"] == "inpainting" for m in checkpoints["results"])
    assert all("defaultWidth" in m and "defaultSteps" in m for m in checkpoints["results"])
    tagged = await search(tags=["anime", "lora"])
    assert all({"anime", "lora"} <= set(m["tags"]) for m in tagged["results"])
    private = await search(visibility="private")
    assert private["totalResults"] > 0 and all(m["private"] for m in private["results"])
    flux = await search(search="flux dev")
    assert any(m["air"] == "runware:101@1" for m in flux["results"])
    by_name = await search(category="vae", sort="-name", limit=100)
    names = [m["name"].lower() for m in by_name["results"]]
    assert names == sorted(names, reverse=True)
    popular = await search(sort="-popularity", limit=3)
    assert popular["totalResults"] > 3 and len(popular["results"]) == 3


async def test_model_search_validation(connect):
    with pytest.raises(RunwareError) as caught:
        await connect().model_search({"limit": 1000})
    assert (caught.value.code, caught.value.parameter) == ("validation", "limit")
