"""The ledger accounts for every cent Runware billed, and the CSV for every cent of the ledger."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.test import Client

from runware_web.money import reconcile, reports
from runware_web.money.models import Charge
from runware_web.upstream.models import Task
from tests.conftest import acreate_user
from tests.spend.helpers import add_charge

pytestmark = pytest.mark.django_db(transaction=True)


async def run(runner, user, task_type: str, params: dict, *, number_results: int = 1,
              delivery: str = "sync") -> Task:
    task = await runner.submit(user=user, feature="spend-test", task_type=task_type, params=params,
                               number_results=number_results, delivery=delivery)
    await runner.wait(task.pk)
    task = await database_sync_to_async(Task.objects.get)(pk=task.pk)
    assert task.status == Task.Status.DONE, task.error_message
    return task


@database_sync_to_async
def ledger_total() -> Decimal:
    return reports.total(Charge.objects.all())


@database_sync_to_async
def first_image_uuid(task: Task) -> str:
    return task.charges.order_by("id").values_list("result_key", flat=True).first()


def download_csv(staff) -> list[dict[str, str]]:
    client = Client()
    client.force_login(staff)
    today = reports.today().isoformat()
    response = client.get(f"/spend/export.csv?from={today}&to={today}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    text = response.content.decode()
    return list(csv.DictReader(io.StringIO(text)))


async def test_a_mix_of_generations_chats_and_tools_reconciles_to_the_last_decimal(upstream, simulator):
    staff = await acreate_user("sam", is_staff=True)
    alice = await acreate_user("alice")
    balance_before = simulator.balance()
    start = await reconcile.take_reading(user=staff, starting_point=True)
    assert start.balance == balance_before

    image = await run(upstream, alice, "imageInference", {
        "model": "runware:101@1", "positivePrompt": "three paper boats on a pond", "width": 768,
        "height": 512, "steps": 13, "numberResults": 3}, number_results=3)
    await run(upstream, alice, "imageInference", {
        "model": "civitai:101055@128078", "positivePrompt": "a fox in the snow", "width": 576, "height": 832,
        "steps": 7})
    await run(upstream, alice, "textInference", {
        "model": "google:gemma@4-31b", "messages": [{"role": "user", "content": "Explain what a ledger is."}]},
        delivery="stream")
    await run(upstream, alice, "textInference", {
        "model": "minimax:m2.7@0", "messages": [{"role": "user", "content": "Plan a picnic, step by step."}],
        "settings": {"maxTokens": 77}}, delivery="stream")
    source = await first_image_uuid(image)
    await run(upstream, alice, "caption", {"model": "runware:150@2", "inputs": {"image": source}})
    await run(upstream, alice, "promptEnhance", {
        "model": "runware:llama-3-1-8b@prompt-enhancer", "prompt": "a castle", "promptVersions": 3,
        "promptMaxLength": 120}, number_results=3)
    await run(upstream, alice, "upscale", {"model": "runware:504@1", "inputs": {"image": source},
                                           "upscaleFactor": 2})
    await run(upstream, alice, "removeBackground", {"model": "runware:109@1", "inputs": {"image": source}})

    latest = await reconcile.take_reading(user=staff)
    result = await database_sync_to_async(reconcile.current)()
    total = await ledger_total()

    assert await database_sync_to_async(Charge.objects.count)() == 12
    assert total == balance_before - simulator.balance()  # exactly, to the last decimal
    assert result.latest.pk == latest.pk and result.start.pk == start.pk
    assert result.ledger == total == result.decrease
    assert result.matches

    rows = await sync_to_async(download_csv)(staff)
    assert len(rows) == 12
    assert sum(Decimal(row["cost"]) for row in rows) == total
    assert {row["task_type"] for row in rows} == {
        "imageInference", "textInference", "caption", "promptEnhance", "upscale", "removeBackground"}
    assert all(row["user"] == "alice" for row in rows)


async def test_reconciliation_flags_what_the_ledger_does_not_account_for(upstream, simulator):
    """Something billed outside the portal (here: a task sent by another client) is flagged."""
    from django.conf import settings
    from runware import Runware

    alice = await acreate_user("alice")
    await reconcile.take_reading(starting_point=True)
    await run(upstream, alice, "promptEnhance", {"model": "runware:llama-3-1-8b@prompt-enhancer",
                                                 "prompt": "a lighthouse", "promptVersions": 1})
    outsider = Runware(api_key="another-client", ws_base_url=settings.RUNWARE_WS_URL,
                       http_base_url=settings.RUNWARE_HTTP_URL)
    try:
        await outsider.run({"taskType": "promptEnhance", "model": "runware:llama-3-1-8b@prompt-enhancer",
                            "prompt": "a harbour", "promptVersions": 2, "includeCost": True})
    finally:
        await outsider.close()
    await reconcile.take_reading()
    result = await database_sync_to_async(reconcile.current)()
    assert not result.matches
    assert result.ledger == Decimal("0.0001")
    assert result.difference == Decimal("0.0002")  # the outsider's two versions


@pytest.mark.parametrize("value, expected", [
    (2450.75, Decimal("2450.75")),
    ("12.5", Decimal("12.5")),
    ({"amount": 99.123456, "currency": "USD"}, Decimal("99.123456")),
    ({"USD": {"available": 3.5}}, Decimal("3.5")),
    (None, None),
    ({"currency": "USD"}, None),
    (True, None),
])
def test_the_balance_is_read_whether_runware_sends_a_number_or_an_object(value, expected):
    assert reconcile.parse_balance(value) == expected


@pytest.mark.django_db
def test_deleting_images_and_conversations_never_removes_their_cost(user, staff_user):
    from runware_web.chat.models import Conversation, Message
    from runware_web.media.models import Image

    image_charge = add_charge(user, "0.0041")
    chat_charge = add_charge(user, "0.00001234", task_type="textInference", model="google:gemma@4-31b")
    Image.objects.create(user=user, task=image_charge.task, file="images/x.png", width=64, height=64)
    conversation = Conversation.objects.create(user=user)
    Message.objects.create(conversation=conversation, role="assistant", task=chat_charge.task)

    Image.objects.filter(user=user).delete()
    conversation.delete()

    assert reports.total(Charge.objects.filter(user=user)) == Decimal("0.00411234")
    assert reports.member_budget_use(user).spent == Decimal("0.00411234")


@pytest.mark.django_db
def test_readings_with_nothing_new_in_between_do_not_pile_up(user):
    from runware_web.money.models import BalanceReading

    start = reconcile.save_reading(balance=Decimal("100"))
    first = reconcile.save_reading(balance=Decimal("100"))
    again = reconcile.save_reading(balance=Decimal("100"))
    assert start.is_starting_point and again.pk == first.pk != start.pk
    add_charge(user, "0.5")
    later = reconcile.save_reading(balance=Decimal("99.5"))
    assert later.pk != first.pk
    assert BalanceReading.objects.count() == 3
    assert reconcile.current().matches


AMOUNTS = [Decimal("0.0013"), Decimal("0.0000000001"), Decimal("1234.5678901234"), Decimal("0.1"),
           Decimal("0.2"), Decimal("0.3"), Decimal("99999.9999999999"), Decimal("0.0000004567")]


def test_totals_are_exact_in_the_database_to_the_tenth_decimal(user, other_user):
    """Sums come from the database (never every row read into Python), and still to the last digit:
    0.1 + 0.2 is 0.3 here, and ten-decimal amounts next to large ones lose nothing."""
    for _ in range(3):
        for amount in AMOUNTS:
            add_charge(user, amount)
    add_charge(other_user, "7.0000000003")
    expected = sum(AMOUNTS, Decimal(0)) * 3

    assert reports.total(Charge.objects.filter(user=user)) == expected
    assert str(reports.total(Charge.objects.filter(user=other_user))) == "7.0000000003"
    assert reports.total(Charge.objects.none()) == 0
    groups = reports.grouped(Charge.objects.all(), "user")
    assert (groups[user.pk].total, groups[user.pk].count) == (expected, len(AMOUNTS) * 3)
    assert groups[other_user.pk].total == Decimal("7.0000000003")


def test_a_tasks_cost_is_recomputed_exactly_from_its_ledger_rows(user):
    """The runner counts outputs in batches; the task's cost is the exact sum of its rows, also when
    two workers record the same output (one adopted the task while the other still ran it)."""
    from django.db import transaction

    from runware_web.money.ledger import record_charges

    task = Task.objects.create(user=user, feature="spend-test", task_type="imageInference", params={})
    other_worker = Task.objects.get(pk=task.pk)
    with transaction.atomic():
        record_charges([(task, "#0", Decimal("0.1")), (task, "#1", Decimal("0.2"))])
    with transaction.atomic():
        record_charges([(task, "#2", Decimal("0.0000000001")), (task, "#3", None)])
    with transaction.atomic():
        record_charges([(other_worker, "#1", Decimal("0.2"))])

    stored = Task.objects.get(pk=task.pk)
    assert stored.cost == Decimal("0.3000000001")
    assert task.cost == stored.cost  # the runner's own object follows, without reading the row
    assert Charge.objects.filter(task=task).count() == 3
    assert reports.total(Charge.objects.filter(task=task)) == stored.cost


def test_a_trip_written_again_after_a_failure_counts_each_output_once(user):
    """The group commit rolls a failed trip back and writes it again in parts: the runner's Task
    object must not count the outputs of the first, rolled-back attempt."""
    from django.db import IntegrityError

    from runware_web.money.ledger import record_charges
    from runware_web.runner.batching import _write_trip

    def fails(items: list) -> list:
        raise IntegrityError("the database said no")

    task = Task.objects.create(user=user, feature="spend-test", task_type="imageInference", params={})
    outcomes = _write_trip([(record_charges, (task, "#0", Decimal("0.25"))), (fails, None)])

    assert outcomes[0] is True and isinstance(outcomes[1], IntegrityError)
    assert (task.cost, task.results_received) == (Decimal("0.25"), 1)
    stored = Task.objects.get(pk=task.pk)
    assert (stored.cost, stored.results_received) == (Decimal("0.25"), 1)
