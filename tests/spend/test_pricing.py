"""Estimates come from one price source, money.prices: its table matches what Runware (here: the
simulator) charges, recent actual costs take over once they are known, and the studio, the tools and
chat show and reserve the figure it gives."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from channels.db import database_sync_to_async
from django.urls import reverse

from runware_web.chat.services import send_message
from runware_web.chat.text_models import DEFAULT_MODEL, text_models
from runware_web.lib.kinds import current_type
from runware_web.money import prices as pricing
from runware_web.money.models import Charge
from runware_web.simulator.tasks import BUILDERS
from runware_web.tools.forms import IMAGE_TOOLS
from runware_web.upstream.models import Task
from runware_web.upstream.models_catalogue import model_defaults
from tests.chat.conftest import acreate_conversation
from tests.conftest import acreate_user, make_user
from tests.spend.helpers import add_charge
from tests.tools.conftest import make_image


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
    ("imageInference", {**IMAGE, "refiner": {"model": "runware:101@1", "startStep": 6}}, 1),
    ("promptEnhance", {"model": "runware:llama-3-1-8b@prompt-enhancer", "prompt": "a fox",
                       "promptVersions": 3}, 3),
    ("upscale", {"model": "runware:504@1", "inputs": {"image": png_data_uri(300, 200)}, "upscaleFactor": 4}, 1),
    ("caption", {"model": "runware:150@2", "inputs": {"image": png_data_uri(64, 64)}}, 1),
    ("removeBackground", {"model": "runware:109@1", "inputs": {"image": png_data_uri(64, 64)}}, 1),
])
async def test_with_no_history_the_table_predicts_the_charge_exactly(upstream, task_type, params, number_results):
    alice = await acreate_user("alice")
    defaults = await model_defaults(params["model"])  # the model's own, from Runware's catalogue
    estimate = await database_sync_to_async(pricing.estimate)(task_type, params, number_results,
                                                                defaults=defaults)
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
def test_a_caller_that_may_not_read_keeps_the_last_periods_price_until_the_next_is_learned(monkeypatch):
    """The one-message admission never reads the database: when the memory starts again, it prices a
    task with what the period before learned, rather than sending it the full way. What reads the
    database (the full admission) learns afresh, and from then on both use the new price."""
    now = [1000.0]
    monkeypatch.setattr(pricing.time, "monotonic", lambda: now[0])
    memory = pricing.PriceMemory(seconds=10)
    alice = make_user("alice")
    with pytest.raises(pricing.NotLearned):
        pricing.estimate("imageInference", IMAGE, 1, learned=memory.lately(), read_recent=False)
    first = add_charge(alice, "0.0031")
    Task.objects.filter(pk=first.task_id).update(params=IMAGE)
    assert pricing.estimate("imageInference", IMAGE, 1, learned=memory.current()) == Decimal("0.0031")
    dearer = add_charge(alice, "0.0042")
    Task.objects.filter(pk=dearer.task_id).update(params=IMAGE)

    now[0] += 11  # the memory starts again: nothing read this period yet
    assert pricing.estimate("imageInference", IMAGE, 1, learned=memory.lately(), read_recent=False) == Decimal("0.0031")
    assert pricing.estimate("imageInference", IMAGE, 1, learned=memory.current()) == Decimal("0.0042")
    assert pricing.estimate("imageInference", IMAGE, 1, learned=memory.lately(), read_recent=False) == Decimal("0.0042")

    now[0] += 22  # two periods on, nothing learned since: not a price that old
    with pytest.raises(pricing.NotLearned):
        pricing.estimate("imageInference", IMAGE, 1, learned=memory.lately(), read_recent=False)


@pytest.mark.django_db
def test_an_unknown_task_type_still_reserves_something():
    assert pricing.estimate("videoInference", {"model": "klingai:5@3"}, 1) > 0


@pytest.mark.django_db
def test_a_text_model_not_in_the_table_is_priced_at_the_dear_end():
    params = {"messages": [{"role": "user", "content": "Hello"}], "settings": {"maxTokens": 1024}}
    known = pricing.estimate("textInference", {**params, "model": DEFAULT_MODEL}, 1)
    unknown = pricing.estimate("textInference", {**params, "model": "acme:llm@1"}, 1)
    assert unknown >= 1024 * pricing.UNKNOWN_TEXT_MODEL.completion > known


@pytest.mark.django_db
def test_replies_dearer_than_the_table_raise_the_estimate_and_cheaper_ones_do_not():
    """A reply's cost follows its conversation, so only a charge above the table's bound says the
    model costs more than the table; short replies never lower what a long one may cost."""
    alice = make_user("alice")
    params = {"model": DEFAULT_MODEL, "messages": [{"role": "user", "content": "Hello"}],
              "settings": {"maxTokens": 100}}
    table = pricing.estimate("textInference", params, 1)
    cheap = add_charge(alice, table / 10, task_type="textInference", model=DEFAULT_MODEL)
    Task.objects.filter(pk=cheap.task_id).update(params=params)
    assert pricing.quote("textInference", params, 1).basis == "table"

    dear = add_charge(alice, table * 3, task_type="textInference", model=DEFAULT_MODEL)
    Task.objects.filter(pk=dear.task_id).update(params=params)
    longer = {**params, "settings": {"maxTokens": 200}}
    assert pricing.estimate("textInference", longer, 1) >= 3 * pricing.table_price("textInference", longer)


@pytest.mark.django_db
def test_an_upscale_is_priced_from_the_input_size_the_caller_knows():
    params = {"model": "runware:504@1", "inputs": {"image": "portal-image:0f0e"}, "upscaleFactor": 2}
    # $0.0005 + $0.0002 per output megapixel: 200 × 100 px, then 2048 × 2048 px from an assumed 1024 × 1024
    assert pricing.estimate("upscale", params, 1, input_size=(100, 50)) == Decimal("0.000504")
    assert pricing.estimate("upscale", params, 1) == Decimal("0.00133886")


# ---------------------------------------------------------------------------- the table is complete

PORTAL_TASK_TYPES = {
    "imageInference", "textInference", "promptEnhance", "videoInference", "audioInference", "3dInference", *IMAGE_TOOLS,
}
# The simulator's media tasks (mediatasks), which the portal sends.
MEDIA_TASK_TYPES = {"videoInference", "audioInference", "3dInference"}


def test_every_task_type_the_portal_sends_and_the_simulator_prices_has_a_price():
    assert set(pricing.TABLE) >= PORTAL_TASK_TYPES
    assert {current_type(task_type) for task_type in BUILDERS} | MEDIA_TASK_TYPES == set(pricing.TABLE)
    assert set(text_models()) <= set(pricing.TEXT_TOKEN_PRICES)  # every model chat offers


# ---------------------------------------------------------------------------- what features show and reserve

DISTINCT = Decimal("0.0123")  # a price no table holds: a figure carrying it came from money.prices


@pytest.mark.django_db
def test_the_refiner_counts_in_the_studio_estimate(alice_client):
    query = {"model": "runware:101@1", "width": "1024", "height": "1024", "steps": "28", "numberResults": "3"}
    plain = alice_client.get("/studio/estimate", query).content.decode()
    refined = alice_client.get("/studio/estimate", {**query, "refiner_model": "runware:101@1"}).content.decode()
    # 3 × ($0.00343601 + $0.0005 for the refiner) = $0.01180803, shown rounded up
    assert "≈ $0.0104" in plain and "≈ $0.0119" in refined


@pytest.mark.django_db(transaction=True)
async def test_the_studio_shows_and_reserves_the_price_sources_figure(async_client, upstream, monkeypatch):
    monkeypatch.setitem(pricing.TABLE, "imageInference", lambda params, input_size: DISTINCT)
    alice = await acreate_user("alice")
    await async_client.aforce_login(alice)
    form = {"positivePrompt": "a windmill", "model": "runware:101@1", "width": "256", "height": "256",
            "numberResults": "2", "steps": "4"}
    shown = (await async_client.get("/studio/estimate", form)).content.decode()
    response = await async_client.post("/studio/generate", form)
    task_id = re.search(r"/studio/g/([0-9a-f-]{36})/", response["Location"]).group(1)
    await upstream.wait(task_id)
    assert "≈ $0.0246" in shown and (await Task.objects.aget(pk=task_id)).estimated_cost == 2 * DISTINCT


@pytest.mark.django_db(transaction=True)
async def test_the_tools_reserve_the_price_sources_figure(async_client, upstream, monkeypatch):
    monkeypatch.setitem(pricing.TABLE, "caption", lambda params, input_size: DISTINCT)
    monkeypatch.setitem(pricing.TABLE, "promptEnhance", lambda params, input_size: DISTINCT)
    alice = await acreate_user("alice")
    image = await database_sync_to_async(make_image)(alice)
    await async_client.aforce_login(alice)
    await async_client.post(reverse("tools:run", args=["caption"]), {"image": str(image.pk), "model": "runware:150@2"})
    await async_client.post(reverse("tools:enhance"), {"prompt": "a lighthouse", "promptVersions": "3",
                                                       "promptMaxLength": "120"}, headers={"HX-Request": "true"})
    reserved = {task.task_type: task.estimated_cost async for task in Task.objects.all()}
    assert reserved == {"caption": DISTINCT, "promptEnhance": 3 * DISTINCT}


@pytest.mark.django_db(transaction=True)
async def test_an_upscale_tool_reserves_exactly_what_runware_charges_for_the_images_size(async_client, upstream):
    alice = await acreate_user("alice")
    image = await database_sync_to_async(make_image)(alice, width=96, height=64)
    await async_client.aforce_login(alice)
    await async_client.post(reverse("tools:run", args=["upscale"]), {
        "image": str(image.pk), "model": "runware:504@1", "upscaleFactor": "4", "outputFormat": "JPG"})
    task = await Task.objects.aget(task_type="upscale")
    await upstream.wait(task.pk)
    assert task.estimated_cost == (await Task.objects.aget(pk=task.pk)).cost > 0


@pytest.mark.django_db(transaction=True)
async def test_a_one_word_chat_message_is_estimated_near_its_real_cost(upstream):
    """A member with $0.003 left can still chat: the default model's reply to one word is reserved
    at well under that, and at least what the ledger then records for it."""
    alice = await acreate_user("alice", monthly_budget=Decimal("0.003"))
    conversation = await acreate_conversation(alice)
    turn = await send_message(user=alice, conversation_id=conversation.pk, content="Hello")
    await upstream.wait(turn.reply.task_id)

    task = await Task.objects.aget(pk=turn.reply.task_id)
    charged = await database_sync_to_async(
        lambda: sum(Charge.objects.filter(task_id=task.pk).values_list("amount", flat=True), Decimal(0)))()
    assert (task.model, task.params["settings"]["maxTokens"]) == (DEFAULT_MODEL, 1024)
    assert 0 < charged <= task.estimated_cost < Decimal("0.003")


@pytest.mark.django_db(transaction=True)
async def test_chat_reserves_the_price_sources_figure(upstream, monkeypatch):
    monkeypatch.setitem(pricing.TEXT_TOKEN_PRICES, DEFAULT_MODEL, pricing.TokenPrice(DISTINCT, DISTINCT))
    alice = await acreate_user("alice")
    conversation = await acreate_conversation(alice, max_tokens=10)
    turn = await send_message(user=alice, conversation_id=conversation.pk, content="Hello")
    await upstream.wait(turn.reply.task_id)

    task = await Task.objects.aget(pk=turn.reply.task_id)
    prompt_tokens = 2 + pricing.MESSAGE_OVERHEAD_TOKENS  # "Hello": 5 characters, one word
    assert task.estimated_cost == DISTINCT * (prompt_tokens + 10)
