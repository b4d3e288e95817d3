"""Budgets never overrun: a generation that leaves its steps and size to the model is estimated with
that model's own defaults (Runware's catalogue, here the simulator's), and what a running task
reserves stays held until its charges replace it."""

from __future__ import annotations

import asyncio
from decimal import ROUND_UP, Decimal

import pytest
from channels.db import database_sync_to_async
from django.core.cache import cache
from django.utils import timezone

from runware_web.money import prices, reports
from runware_web.money.models import Charge
from runware_web.simulator import catalog, pricing
from runware_web.upstream import models_catalogue
from runware_web.upstream.errors import Refused
from runware_web.upstream.models import Task
from runware_web.upstream.models_catalogue import model_defaults
from tests.conftest import acreate_user, make_user

PROMPT = "a lighthouse at dusk"
IMAGE_MODELS = [model for model in catalog.all_models() if model.task_type == "imageInference"]
# One model of each architecture the simulator gives its own defaults, and one it does not.
SAMPLE = list({model.architecture if model.architecture in catalog.ARCHITECTURE_DEFAULTS else "other": model
               for model in reversed(IMAGE_MODELS)}.values())
COMMUNITY_SDXL = next(m.air for m in IMAGE_MODELS if m.source == "community" and m.architecture == "sdxl"
                      and m.type == "base")


def simulator_charge(model: catalog.ModelInfo) -> Decimal:
    """What the simulator charges for one image of the model with only a model and a prompt."""
    defaults = model.defaults or catalog.ARCHITECTURE_DEFAULTS["sdxl"]  # as simulator.tasks reads them
    return pricing.image_cost(width=defaults.width, height=defaults.height, steps=defaults.steps,
                              adapters=0, controlnets=0, refiner=False)


@database_sync_to_async
def ledger_total(**filters) -> Decimal:
    return sum(Charge.objects.filter(**filters).values_list("amount", flat=True), Decimal(0))


@pytest.mark.django_db
async def test_every_image_model_is_estimated_at_what_the_simulator_charges_for_its_defaults():
    """Not merely at or above: at the charge itself, so the conservative guess is not what passes."""
    wrong = {}
    for model in IMAGE_MODELS:
        defaults = await model_defaults(model.air)
        estimate = await database_sync_to_async(prices.estimate)(
            "imageInference", {"model": model.air, "positivePrompt": PROMPT}, 1, defaults=defaults)
        if estimate != simulator_charge(model):
            wrong[model.air] = (model.architecture, estimate, simulator_charge(model))
    assert wrong == {}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("model", SAMPLE, ids=lambda model: model.architecture)
async def test_a_real_task_with_the_models_defaults_is_charged_no_more_than_admission_reserved(upstream, model):
    alice = await acreate_user("alice")
    task = await upstream.submit(user=alice, feature="spend-test", task_type="imageInference",
                                 params={"model": model.air, "positivePrompt": PROMPT}, number_results=2)
    await upstream.wait(task.pk)
    charged = await ledger_total(task=task)
    assert (await Task.objects.aget(pk=task.pk)).status == Task.Status.DONE
    assert 0 < charged <= task.estimated_cost
    assert task.estimated_cost == 2 * simulator_charge(model)


@pytest.mark.django_db(transaction=True)
async def test_a_member_firing_tasks_at_once_never_spends_more_than_the_budget(upstream):
    """A community SDXL checkpoint, steps and size left to the model (the overrun the issue saw)."""
    defaults = await model_defaults(COMMUNITY_SDXL)
    params = {"model": COMMUNITY_SDXL, "positivePrompt": PROMPT}
    one = await database_sync_to_async(prices.estimate)("imageInference", params, 1, defaults=defaults)
    budget = one.quantize(Decimal("0.0001"), rounding=ROUND_UP)  # budgets keep four decimals
    alice = await acreate_user("alice", monthly_budget=budget)

    outcomes = await asyncio.gather(*(
        upstream.submit(user=alice, feature="spend-test", task_type="imageInference", params=dict(params))
        for _ in range(6)), return_exceptions=True)
    started = [outcome for outcome in outcomes if isinstance(outcome, Task)]
    for task in started:
        await upstream.wait(task.pk)

    assert len(started) == 1 and all(isinstance(o, Task | Refused) for o in outcomes)
    assert 0 < await ledger_total(user=alice) <= budget


@pytest.mark.django_db
async def test_a_model_runware_does_not_know_is_estimated_at_the_dear_end():
    """The largest default size and the most steps any architecture runs with."""
    unknown = await model_defaults("civitai:1@1")  # no such model: Runware says nothing of it
    params = {"model": "civitai:1@1", "positivePrompt": PROMPT}
    estimate = await database_sync_to_async(prices.estimate)("imageInference", params, 1, defaults=unknown)
    dearest = max(simulator_charge(model) for model in IMAGE_MODELS)
    assert unknown is None and estimate == dearest


@pytest.mark.django_db
async def test_the_last_known_defaults_stand_while_runware_cannot_be_reached(monkeypatch):
    known = await model_defaults(COMMUNITY_SDXL)
    await cache.adelete(models_catalogue._fresh_key(COMMUNITY_SDXL))  # an hour later: asked again

    async def unreachable(air):
        raise ConnectionError("Runware cannot be reached")

    monkeypatch.setattr(models_catalogue, "_ask_runware", unreachable)
    assert known is not None and known.steps == 30
    assert await model_defaults(COMMUNITY_SDXL) == known
    assert models_catalogue.known_defaults(COMMUNITY_SDXL) == known


@pytest.mark.django_db
def test_a_task_keeps_reserving_for_the_results_not_yet_charged_and_a_cancelled_one_until_it_ends():
    alice = make_user("alice")

    def task(status: str, cost: str, received: int, finished: bool = False) -> Task:
        return Task.objects.create(
            user=alice, feature="spend-test", task_type="imageInference", params={}, model="m",
            number_results=4, estimated_cost=Decimal("0.004"), cost=Decimal(cost), results_received=received,
            status=status, finished_at=timezone.now() if finished else None)

    task(Task.Status.RUNNING, "0.0025", 1)  # its first image was dearer than its share: 3 still to come
    task(Task.Status.CANCELLED, "0.001", 1)  # cancelled, still running upstream: Runware still bills
    task(Task.Status.CANCELLED, "0.001", 1, finished=True)  # ended: its charges are all there is
    task(Task.Status.DONE, "0.004", 4, finished=True)
    assert reports.reserved(Task.objects.filter(user=alice)) == Decimal("0.003") + Decimal("0.003")
