"""Estimates: the price table matches what Runware (here: the simulator) charges, and recent actual
costs take over once they are known."""

from __future__ import annotations

from decimal import Decimal

import pytest
from channels.db import database_sync_to_async

from runware_web.money import prices as pricing
from runware_web.money.models import Charge
from runware_web.upstream.models import Task
from tests.conftest import acreate_user, make_user
from tests.spend.helpers import add_charge


def png_data_uri(width: int, height: int) -> str:
    import base64
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 120, 40)).save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


IMAGE = {"model": "runware:101@1", "positivePrompt": "a windmill", "width": 768, "height": 512, "steps": 9}


async def charged(runner, user, task_type: str, params: dict, number_results: int = 1,
                  delivery: str = "sync") -> Decimal:
    task = await runner.submit(user=user, feature="spend-test", task_type=task_type, params=params,
                               number_results=number_results, delivery=delivery)
    await runner.wait(task.pk)
    return await database_sync_to_async(
        lambda: sum(Charge.objects.filter(task_id=task.pk).values_list("amount", flat=True), Decimal(0)))()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("task_type, params, number_results", [
    ("imageInference", {**IMAGE, "numberResults": 2}, 2),
    ("imageInference", {"model": "runware:101@1", "positivePrompt": "a windmill", "width": 512, "height": 512}, 1),
    ("imageInference", {**IMAGE, "lora": [{"model": "civitai:181605@314619", "weight": 0.7}]}, 1),
    ("promptEnhance", {"model": "runware:llama-3-1-8b@prompt-enhancer", "prompt": "a fox",
                       "promptVersions": 3}, 3),
    ("upscale", {"model": "runware:504@1", "inputs": {"image": png_data_uri(300, 200)}, "upscaleFactor": 4}, 1),
    ("caption", {"model": "runware:150@2", "inputs": {"image": png_data_uri(64, 64)}}, 1),
    ("removeBackground", {"model": "runware:109@1", "inputs": {"image": png_data_uri(64, 64)}}, 1),
])
async def test_with_no_history_the_table_predicts_the_charge_exactly(upstream, task_type, params, number_results):
    alice = await acreate_user("alice")
    estimate = await database_sync_to_async(pricing.estimate)(task_type, params, number_results)
    assert estimate == await charged(upstream, alice, task_type, params, number_results)


@pytest.mark.django_db(transaction=True)
async def test_a_text_estimate_covers_the_reply(upstream):
    alice = await acreate_user("alice")
    params = {"model": "google:gemma@4-31b", "messages": [{"role": "user", "content": "Describe a harbour."}],
              "settings": {"maxTokens": 200}}
    estimate = await database_sync_to_async(pricing.estimate)("textInference", params, 1)
    cost = await charged(upstream, alice, "textInference", params, delivery="stream")
    assert 0 < cost <= estimate


@pytest.mark.django_db
def test_recent_costs_of_the_same_shape_replace_the_table():
    alice = make_user("alice")
    table = pricing.estimate("imageInference", IMAGE, 1)
    for amount in ("0.0031", "0.0042"):
        charge = add_charge(alice, amount)
        Task.objects.filter(pk=charge.task_id).update(params=IMAGE)
    other_size = add_charge(alice, "0.9")
    Task.objects.filter(pk=other_size.task_id).update(params={**IMAGE, "width": 1024})

    assert pricing.estimate("imageInference", IMAGE, 3) == Decimal("0.0126")  # the highest recent, × 3
    assert pricing.estimate("imageInference", {**IMAGE, "model": "runware:100@1"}, 1) == table
    assert pricing.estimate("imageInference", {**IMAGE, "steps": 10}, 1) != Decimal("0.0042")


@pytest.mark.django_db
def test_admission_reuses_what_it_learned_for_a_few_seconds_then_learns_again(monkeypatch):
    """The runner estimates every task it admits; it reads recent prices once per kind of output
    every PriceMemory.seconds, not once per task."""
    now = [1000.0]
    monkeypatch.setattr(pricing.time, "monotonic", lambda: now[0])
    memory = pricing.PriceMemory(seconds=10)
    alice = make_user("alice")
    table = pricing.estimate("imageInference", IMAGE, 1, learned=memory.current())
    charge = add_charge(alice, "0.0042")
    Task.objects.filter(pk=charge.task_id).update(params=IMAGE)

    now[0] += 9
    assert pricing.estimate("imageInference", IMAGE, 1, learned=memory.current()) == table
    now[0] += 2
    assert pricing.estimate("imageInference", IMAGE, 1, learned=memory.current()) == Decimal("0.0042")


@pytest.mark.django_db
def test_an_unknown_task_type_still_reserves_something():
    assert pricing.estimate("videoInference", {"model": "klingai:5@3"}, 1) > 0
