"""The upstream session and task runner against the simulator, through the official SDK."""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.db.models import Sum
from django.utils import timezone

from runware_web.lib.groups import user_group
from runware_web.money.models import Charge
from runware_web.runner import Handler, batching, state
from runware_web.runner.handlers import handler_for
from runware_web.runner.outcomes import result_key
from runware_web.upstream.errors import UpstreamError
from runware_web.upstream.models import Task, Worker
from tests.conftest import acreate_user

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.sole_worker]  # see tests.browser

IMAGE_MODEL = "runware:101@1"


class Probe(Handler):
    """A feature handler that remembers what the runner handed it."""

    def __init__(self) -> None:
        self.results: list[dict] = []
        self.failures: list[UpstreamError] = []
        self.stored: set[str] = set()  # the imageUUIDs whose files it says it has

    async def is_stored(self, task, item):
        return item.get("imageUUID") in self.stored

    async def on_result(self, task, item):
        self.results.append(item)
        return f'<div id="probe-{item.get("imageUUID")}">result</div>'

    async def on_finished(self, task):
        return f'<div id="probe-{task.pk}">finished {task.status}</div>'

    async def on_failed(self, task, error):
        self.failures.append(error)
        return f'<div id="probe-{task.pk}">failed {error.code}</div>'


@pytest.fixture
def probe(settings) -> Probe:
    """The "probe" feature's handler, a fresh one for each test (the table changed: made anew)."""
    settings.RUNWARE_WEB_TASK_HANDLERS = {**settings.RUNWARE_WEB_TASK_HANDLERS, "probe": f"{__name__}.Probe"}
    return handler_for("probe")


def image_params(prompt: str = "a lighthouse at dusk", **extra) -> dict:
    return {"model": IMAGE_MODEL, "positivePrompt": prompt, "width": 512, "height": 512, **extra}


@database_sync_to_async
def reload(task: Task) -> Task:
    return Task.objects.get(pk=task.pk)


@database_sync_to_async
def charges_of(task: Task) -> list[Decimal]:
    return list(Charge.objects.filter(task=task).order_by("created_at").values_list("amount", flat=True))


async def test_a_task_completes_and_is_charged_although_nobody_is_listening(upstream, probe):
    alice = await acreate_user("alice")
    task = await upstream.submit(
        user=alice, feature="probe", task_type="imageInference",
        params=image_params(numberResults=3), number_results=3,
    )
    await upstream.wait(task.pk)
    task = await reload(task)
    assert task.status == Task.Status.DONE
    assert task.results_received == 3
    assert len(probe.results) == 3
    assert len({item["imageUUID"] for item in probe.results}) == 3
    charges = await charges_of(task)
    assert charges == [Decimal(str(item["cost"])) for item in probe.results]
    assert task.cost == sum(charges)
    assert task.started_at and task.finished_at and task.worker == upstream.worker_id


async def test_a_feature_missing_from_the_handler_table_is_still_charged_and_named_once_in_the_log(
    upstream, settings, caplog
):
    settings.RUNWARE_WEB_TASK_HANDLERS = {**settings.RUNWARE_WEB_TASK_HANDLERS}  # a table of its own
    alice = await acreate_user("alice")
    with caplog.at_level(logging.WARNING, logger="runware_web.runner"):
        tasks = [
            await upstream.submit(user=alice, feature="unlisted", task_type="imageInference", params=image_params())
            for _ in range(2)
        ]
        for task in tasks:
            await upstream.wait(task.pk)
    for task in tasks:
        task = await reload(task)
        assert task.status == Task.Status.DONE and task.results_received == 1
        assert len(await charges_of(task)) == 1
    warnings = [record.getMessage() for record in caplog.records if "'unlisted'" in record.getMessage()]
    assert len(warnings) == 1 and "RUNWARE_WEB_TASK_HANDLERS" in warnings[0]


async def test_what_a_feature_records_before_start_is_there_for_the_first_result(upstream, probe):
    """A feature's own rows (a card, a reply, a tool run) are recorded before the task is sent, so
    even a result that comes back at once finds them."""
    alice = await acreate_user("alice")
    results_when_recorded: list[int] = []

    async def before_start(task: Task) -> None:
        await asyncio.sleep(0.2)  # a busy database; the simulator answers within milliseconds
        results_when_recorded.append(len(probe.results))

    task = await upstream.submit(
        user=alice, feature="probe", task_type="imageInference", params=image_params(), before_start=before_start,
    )
    await upstream.wait(task.pk)
    assert results_when_recorded == [0] and len(probe.results) == 1


async def test_a_task_its_feature_could_not_record_ends_unsent_and_unbilled(upstream, probe):
    alice = await acreate_user("alice")

    async def broken(task: Task) -> None:
        raise RuntimeError("the database said no")

    with pytest.raises(RuntimeError, match="the database said no"):
        await upstream.submit(user=alice, feature="probe", task_type="imageInference", params=image_params(),
                              before_start=broken)

    task = await Task.objects.aget(user=alice)
    assert (task.status, task.error_code) == (Task.Status.FAILED, "aborted")
    assert "Nothing was billed" in task.error_message and task.finished_at is not None
    assert probe.results == [] and await charges_of(task) == []


async def test_a_results_book_keeping_waits_for_the_next_task_it_sets_off(upstream, probe, monkeypatch):
    """A script sends its next task the moment a result reaches it, and that task waits on its
    admission before anything is sent: the result's charge and file wait a moment for the task to
    come (here 2 ms after the result was handed on), then for its admission."""
    monkeypatch.setattr(batching, "YIELD_SECONDS", 30.0)  # as long as this admission takes, here
    alice = await acreate_user("alice")
    loop = asyncio.get_running_loop()
    admitting, release = threading.Event(), threading.Event()
    admitted: list[asyncio.Future] = []
    stored = asyncio.Event()

    def next_task(items: list) -> list:  # its admission, in the admissions' thread, held until released
        admitting.set()
        release.wait(30)
        return ["admitted"] * len(items)

    def handed_on(task, item) -> None:  # the script has its result: its next task follows
        loop.call_later(
            0.002,
            lambda: admitted.append(asyncio.ensure_future(state.current().admissions(next_task, "next"))),
        )

    saved = probe.on_result

    async def on_result(task, item):
        stored.set()
        return await saved(task, item)

    monkeypatch.setattr(probe, "on_arrival", handed_on)
    monkeypatch.setattr(probe, "on_result", on_result)
    try:
        task = await upstream.submit(
            user=alice, feature="probe", task_type="imageInference", params=image_params()
        )
        assert await loop.run_in_executor(None, admitting.wait, 30)
        storing = asyncio.ensure_future(stored.wait())
        done, _ = await asyncio.wait({storing}, timeout=0.3)
        storing.cancel()
        assert not done and await charges_of(task) == [], (
            "the result was charged and stored during the admission"
        )
    finally:
        release.set()
    assert await admitted[0] == "admitted"
    await upstream.wait(task.pk)
    assert len(probe.results) == 1 and len(await charges_of(task)) == 1


async def test_every_tab_of_the_member_is_told_as_results_arrive(upstream, probe):
    alice = await acreate_user("alice")
    layer = get_channel_layer()
    tab = await layer.new_channel()
    await layer.group_add(user_group(alice.pk), tab)
    task = await upstream.submit(
        user=alice, feature="probe", task_type="imageInference",
        params=image_params(numberResults=2), number_results=2,
    )
    events = [await asyncio.wait_for(layer.receive(tab), 10) for _ in range(3)]
    assert [e["type"] for e in events] == ["task.update"] * 3
    assert all(e["feature"] == "probe" and e["task_id"] == str(task.pk) for e in events)
    assert "result" in events[0]["html"] and "result" in events[1]["html"]
    assert "finished done" in events[2]["html"]


async def test_a_dropped_connection_mid_task_is_recovered_through_get_response(upstream, probe):
    alice = await acreate_user("alice")
    task = await upstream.submit(
        user=alice, feature="probe", task_type="imageInference",
        params=image_params("[sim:drop=1] three boats", numberResults=3), number_results=3,
    )
    await upstream.wait(task.pk)
    task = await reload(task)
    assert task.status == Task.Status.DONE, task.error_message
    assert len(probe.results) == 3
    assert len(await charges_of(task)) == 3


@pytest.mark.parametrize(
    "code, stable",
    [("insufficientCredits", "quota"), ("contentPolicyViolation", "safety"), ("inferenceError", "provider"),
     ("providerTimeout", "timeout")],
)
async def test_upstream_failures_become_clear_messages_and_cost_nothing(upstream, probe, code, stable):
    alice = await acreate_user("alice")
    task = await upstream.submit(
        user=alice, feature="probe", task_type="imageInference", params=image_params(f"[sim:fail={code}] a cat"),
    )
    await upstream.wait(task.pk)
    task = await reload(task)
    assert task.status == Task.Status.FAILED
    assert task.error_code == stable
    assert probe.failures[0].message in task.error_message
    assert await charges_of(task) == []


async def test_a_bad_parameter_names_the_field(upstream, probe):
    alice = await acreate_user("alice")
    task = await upstream.submit(
        user=alice, feature="probe", task_type="imageInference", params=image_params(width=100),
    )
    await upstream.wait(task.pk)
    task = await reload(task)
    assert task.status == Task.Status.FAILED
    assert task.error_code == "validation"
    assert task.error_parameter == "width"
    assert "width" in task.error_message


async def test_a_rejected_key_says_so_without_showing_it(upstream, probe, settings, caplog):
    settings.RUNWARE_API_KEY = "bad-key-0123456789abcdef"
    alice = await acreate_user("alice")
    with caplog.at_level(logging.DEBUG):
        task = await upstream.submit(user=alice, feature="probe", task_type="imageInference", params=image_params())
        await upstream.wait(task.pk)
    task = await reload(task)
    assert task.status == Task.Status.FAILED
    assert task.error_code == "auth"
    assert "API key" in task.error_message
    assert "bad-key-0123456789abcdef" not in task.error_message
    assert "bad-key-0123456789abcdef" not in caplog.text


async def test_an_unreachable_upstream_fails_the_task_with_a_clear_message(upstream, probe, settings):
    settings.RUNWARE_WS_URL = "ws://127.0.0.1:9/v1"  # nothing listens on the discard port
    alice = await acreate_user("alice")
    task = await upstream.submit(user=alice, feature="probe", task_type="imageInference", params=image_params())
    await upstream.wait(task.pk)
    task = await reload(task)
    assert task.status == Task.Status.FAILED
    assert task.error_code in {"unavailable", "connection"}
    assert "Runware" in task.error_message


async def test_a_task_ending_during_shutdown_is_stored_and_nothing_of_the_runner_stays_behind(
    upstream, probe, simulator
):
    """The grace of a stopping worker: the task still running ends, charged, through the runner's
    threads as it ran; then those go, and no new ones (each with a database connection) are left."""
    simulator.set_latency(0.3)
    alice = await acreate_user("alice")
    task = await upstream.submit(
        user=alice, feature="probe", task_type="imageInference",
        params=image_params(numberResults=2), number_results=2,
    )
    await upstream.shutdown(grace=10)
    task = await reload(task)
    assert task.status == Task.Status.DONE
    assert len(await charges_of(task)) == 2
    assert state.peek() is None


async def test_cancel_stops_the_page_waiting_but_still_records_what_runware_bills(upstream, probe, simulator):
    simulator.set_latency(0.2)
    alice = await acreate_user("alice")
    task = await upstream.submit(
        user=alice, feature="probe", task_type="imageInference",
        params=image_params(numberResults=2), number_results=2,
    )
    cancelled = await upstream.cancel(user=alice, task_id=task.pk)
    assert cancelled is not None and cancelled.status == Task.Status.CANCELLED
    await upstream.wait(task.pk)
    task = await reload(task)
    assert task.status == Task.Status.CANCELLED
    assert task.finished_at is not None
    assert len(await charges_of(task)) == len(probe.results)


async def test_nobody_can_cancel_another_members_task(upstream, probe):
    alice = await acreate_user("alice")
    mallory = await acreate_user("mallory")
    task = await upstream.submit(user=alice, feature="probe", task_type="imageInference", params=image_params())
    assert await upstream.cancel(user=mallory, task_id=task.pk) is None
    assert await upstream.cancel(user=mallory, task_id="not-a-uuid") is None
    await upstream.wait(task.pk)
    assert (await reload(task)).status == Task.Status.DONE


async def test_a_task_left_running_by_a_dead_worker_is_recovered(upstream, probe, settings):
    """A worker died after sending a task: the next worker fetches its results with getResponse."""
    from runware import Runware

    alice = await acreate_user("alice")
    task_uuid = uuid.uuid4()
    # The dead worker's socket sent the task (async delivery, so Runware keeps working on it).
    sdk = Runware(api_key="k", ws_base_url=settings.RUNWARE_WS_URL, http_base_url=settings.RUNWARE_HTTP_URL)
    await sdk.run({**image_params(numberResults=2), "taskType": "imageInference", "taskUUID": str(task_uuid),
                   "includeCost": True, "deliveryMethod": "async"})
    await sdk.close()

    @database_sync_to_async
    def orphan() -> Task:
        Worker.objects.create(id="dead-worker", last_seen=timezone.now() - timedelta(minutes=5))
        return Task.objects.create(
            id=task_uuid, user=alice, feature="probe", task_type="imageInference", model=IMAGE_MODEL,
            params=image_params(numberResults=2), number_results=2, status=Task.Status.RUNNING,
            worker="dead-worker", started_at=timezone.now() - timedelta(minutes=2),
        )

    task = await orphan()
    assert await upstream.recover_orphans() == 1
    await upstream.wait(task.pk)
    task = await reload(task)
    assert task.status == Task.Status.DONE
    assert task.worker == upstream.worker_id
    assert len(await charges_of(task)) == 2
    assert await upstream.recover_orphans() == 0  # nothing left to adopt


async def test_a_dead_workers_charged_but_unsaved_result_is_saved_and_not_charged_again(upstream, probe, settings):
    """The dead worker charged both images but stored only the first before it died: the new owner
    stores the second, and the ledger still holds one charge per image, equal to Runware's."""
    from runware import Runware

    alice = await acreate_user("alice")
    task_uuid = uuid.uuid4()
    sdk = Runware(api_key="k", ws_base_url=settings.RUNWARE_WS_URL, http_base_url=settings.RUNWARE_HTTP_URL)
    # Sync delivery: the dead worker saw both results (and charged them) before it died.
    await sdk.run({**image_params(numberResults=2), "taskType": "imageInference", "taskUUID": str(task_uuid),
                   "includeCost": True})
    items = await sdk.get_response({"taskUUID": str(task_uuid)})
    await sdk.close()
    first, second = sorted(items, key=lambda item: item.get("imageUUID"))

    @database_sync_to_async
    def orphan() -> Task:
        Worker.objects.create(id="dead-worker", last_seen=timezone.now() - timedelta(minutes=5))
        task = Task.objects.create(
            id=task_uuid, user=alice, feature="probe", task_type="imageInference", model=IMAGE_MODEL,
            params=image_params(numberResults=2), number_results=2, status=Task.Status.RUNNING,
            worker="dead-worker", results_received=2,
        )
        for item in (first, second):
            Charge.objects.create(task=task, user=alice, task_type="imageInference", model=IMAGE_MODEL,
                                  result_key=result_key(item, fallback=""), amount=Decimal(str(item["cost"])))
        return task

    task = await orphan()
    probe.stored.add(first["imageUUID"])
    assert await upstream.recover_orphans() == 1
    await upstream.wait(task.pk)

    assert [item["imageUUID"] for item in probe.results] == [second["imageUUID"]]
    task = await reload(task)
    assert task.status == Task.Status.DONE
    assert task.results_received == 2
    charges = await charges_of(task)
    assert len(charges) == 2
    assert sum(charges, Decimal(0)) == Decimal(str(first["cost"])) + Decimal(str(second["cost"]))


async def test_a_task_that_was_never_sent_is_closed_as_unbilled(upstream, probe):
    alice = await acreate_user("alice")

    @database_sync_to_async
    def orphan() -> Task:
        return Task.objects.create(
            user=alice, feature="probe", task_type="imageInference", model=IMAGE_MODEL, params=image_params(),
            status=Task.Status.QUEUED, worker="", created_at=timezone.now() - timedelta(minutes=5),
        )

    task = await orphan()
    await upstream.recover_orphans()
    task = await reload(task)
    assert task.status == Task.Status.FAILED
    assert "Nothing was billed" in task.error_message


async def test_the_task_row_exists_before_anything_is_sent(upstream, probe, simulator):
    simulator.set_latency(0.2)
    alice = await acreate_user("alice")
    task = await upstream.submit(user=alice, feature="probe", task_type="imageInference", params=image_params())
    stored = await reload(task)
    assert stored.status in {Task.Status.QUEUED, Task.Status.RUNNING}
    assert stored.params["positivePrompt"] == "a lighthouse at dusk"
    await upstream.wait(task.pk)


async def test_totals_are_sums_of_ledger_rows(upstream, probe):
    alice = await acreate_user("alice")
    for n in (1, 2):
        task = await upstream.submit(
            user=alice, feature="probe", task_type="imageInference", params=image_params(numberResults=n),
            number_results=n,
        )
        await upstream.wait(task.pk)

    @database_sync_to_async
    def totals():
        return (
            Charge.objects.filter(user=alice).aggregate(s=Sum("amount"))["s"],
            Task.objects.filter(user=alice).aggregate(s=Sum("cost"))["s"],
        )

    ledger, tasks = await totals()
    assert ledger == tasks and ledger > 0


async def test_image_references_are_sent_as_the_images_bytes(upstream, probe, simulator):
    """Task rows keep `portal-image:<id>`; Runware gets the image itself, and a vanished image fails clearly."""
    from runware_web.media.refs import image_ref
    from runware_web.media.store import save_image
    from tests.images import png_bytes

    alice = await acreate_user("alice")
    seed = await database_sync_to_async(save_image)(user=alice, data=png_bytes(64, 64), kind="uploaded")
    task = await upstream.submit(
        user=alice, feature="probe", task_type="imageInference",
        params=image_params(seedImage=image_ref(seed), strength=0.5),
    )
    await upstream.wait(task.pk)
    task = await reload(task)
    assert task.status == Task.Status.DONE, task.error_message
    assert task.params["seedImage"] == f"portal-image:{seed.pk}"

    await database_sync_to_async(seed.delete)()
    task = await upstream.submit(
        user=alice, feature="probe", task_type="imageInference",
        params=image_params(seedImage=image_ref(seed), strength=0.5),
    )
    await upstream.wait(task.pk)
    task = await reload(task)
    assert task.status == Task.Status.FAILED
    assert "no longer in your gallery" in task.error_message
    assert await charges_of(task) == []
