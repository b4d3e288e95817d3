"""Runware restarting in the middle of a generation (here a simulator of the test's own, stopped and
started again on the same port): it has forgotten the task and grants the portal a new session.

The task must end within RUNWARE_RECOVERY_TIMEOUT of the reconnect (not RUNWARE_TIMEOUT later),
keeping the images that arrived, with their files, charged exactly what Runware charged for them,
and saying so in words a member understands. The fault suite does the same with real processes.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from channels.db import database_sync_to_async
from django.http import QueryDict

from runware_web.lib.money import usd
from runware_web.media.models import Image
from runware_web.money.models import Charge
from runware_web.runner.outcomes import forgotten, unrecovered
from runware_web.simulator.server import SimulatorThread, run_in_thread
from runware_web.studio.services import generate
from runware_web.upstream.models import Task
from tests.conftest import acreate_user

pytestmark = pytest.mark.django_db(transaction=True)

IMAGES = 4
SECONDS_PER_IMAGE = 2  # the restart happens well before the second image
RECOVERY_TIMEOUT = 8.0
MARGIN = 5.0  # the SDK's reconnect (0.2 s backoff, jitter up to 1 s) and the last writes
STARTING_BALANCE = Decimal("1000")


@pytest.fixture
def own_upstream(settings):
    """A simulator of this test's own (the session's is shared), which the test may restart."""
    handle = {"sim": run_in_thread(latency=0.0)}
    settings.RUNWARE_WS_URL, settings.RUNWARE_HTTP_URL = handle["sim"].ws_url, handle["sim"].http_url
    settings.RUNWARE_RECOVERY_TIMEOUT = RECOVERY_TIMEOUT
    settings.RUNWARE_TIMEOUT = 120.0  # what the task would hang for, before this was fixed
    yield handle
    handle["sim"].stop()


async def restart(handle: dict, *, down_for: float = 0.0) -> SimulatorThread:
    """Stop the upstream (it forgets every task and session), and start a new one on its port."""
    old: SimulatorThread = handle["sim"]
    await asyncio.to_thread(old.stop)
    if down_for:
        await asyncio.sleep(down_for)  # the length of the outage: nothing to wait for
    handle["sim"] = await asyncio.to_thread(run_in_thread, port=old.port, latency=0.0)
    return old


async def until(condition, *, seconds: float, what: str):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while loop.time() < deadline:
        if value := await condition():
            return value
        await asyncio.sleep(0.05)  # rows written by the runner in this loop
    pytest.fail(f"Waited {seconds} s for {what}.")


def studio_request(prompt: str, number: int = IMAGES) -> QueryDict:
    data = QueryDict(mutable=True)
    data.update({"positivePrompt": prompt, "model": "runware:101@1", "width": "256", "height": "256",
                 "numberResults": str(number)})
    return data


@database_sync_to_async
def kept(task: Task) -> tuple[Task, list[Image], list[Decimal]]:
    task.refresh_from_db()
    images = list(Image.objects.filter(task=task))
    return task, images, list(Charge.objects.filter(task=task).values_list("amount", flat=True))


@pytest.mark.parametrize("down_for", [0.0, 3.0], ids=["restarted-at-once", "down-for-a-while"])
async def test_a_task_runware_forgot_in_a_restart_ends_soon_after_the_reconnect_with_what_arrived(
    upstream, own_upstream, down_for
):
    alice = await acreate_user("alice")
    outcome = await generate(alice, studio_request(f"a red fox in the snow [sim:delay={SECONDS_PER_IMAGE}]"))
    task = outcome.task
    assert task is not None
    # Stored, not only charged: the file is fetched from Runware, which is about to go away.
    await until(lambda: Image.objects.filter(task=task).aexists(), seconds=30, what="the first image")

    old = await restart(own_upstream, down_for=down_for)
    restarted_at = asyncio.get_running_loop().time()
    await asyncio.wait_for(upstream.wait(task.pk), timeout=RECOVERY_TIMEOUT + MARGIN)
    print(f"the task ended {asyncio.get_running_loop().time() - restarted_at:.1f} s after the restart")

    task, images, charges = await kept(task)
    assert task.status == Task.Status.FAILED
    assert 1 <= len(images) < IMAGES
    assert all(image.file.storage.exists(image.file.name) for image in images)
    assert len(charges) == len(images) == task.results_received
    assert sum(charges) == task.cost == STARTING_BALANCE - old.balance()  # what the old Runware charged
    assert own_upstream["sim"].total_charged() == 0  # nothing was sent (or billed) again after the restart
    assert task.error_message == (
        f"Runware restarted and lost this task. {len(images)} of {IMAGES} images arrived and "
        f"{'is' if len(images) == 1 else 'are'} in your gallery; {usd(task.cost)} was billed for "
        f"{'it' if len(images) == 1 else 'them'}. Try again for the rest."
    )
    assert "127.0.0.1" not in task.error_message and "ws://" not in task.error_message


async def test_a_task_runware_answers_after_its_restart_is_not_held_up(upstream, own_upstream):
    """The restart does not leave the portal stuck: the next task runs to the end, on the new session."""
    alice = await acreate_user("alice")
    first = (await generate(alice, studio_request(f"a heron [sim:delay={SECONDS_PER_IMAGE}]", 2))).task
    await until(lambda: Image.objects.filter(task=first).aexists(), seconds=30, what="the first image")
    await restart(own_upstream)
    await asyncio.wait_for(upstream.wait(first.pk), timeout=RECOVERY_TIMEOUT + MARGIN)

    second = (await generate(alice, studio_request("a heron again", 2))).task
    await asyncio.wait_for(upstream.wait(second.pk), timeout=30)
    second, images, charges = await kept(second)
    assert second.status == Task.Status.DONE, second.error_message
    assert len(images) == len(charges) == 2
    assert sum(charges) == own_upstream["sim"].total_charged()


async def test_a_task_started_while_runware_is_away_fails_at_once_and_costs_nothing(upstream, own_upstream):
    alice = await acreate_user("alice")
    first = (await generate(alice, studio_request("a lighthouse", 1))).task
    await asyncio.wait_for(upstream.wait(first.pk), timeout=30)  # the portal's session is open
    await asyncio.to_thread(own_upstream["sim"].stop)

    task = (await generate(alice, studio_request("a lighthouse at night", 1))).task
    await asyncio.wait_for(upstream.wait(task.pk), timeout=RECOVERY_TIMEOUT + MARGIN)
    task, images, charges = await kept(task)
    assert task.status == Task.Status.FAILED
    assert "cannot be reached" in task.error_message
    assert "127.0.0.1" not in task.error_message  # the socket library's words name the address
    assert images == [] and charges == []


@pytest.mark.parametrize(
    "task_type, arrived, cost, message",
    [
        ("imageInference", 0, "0", "Runware no longer knows this task. No image had arrived, and nothing was "
                                   "billed for it. Try again."),
        ("imageInference", 2, "0.0124", "Runware restarted and lost this task. 2 of 4 images arrived and are "
                                        "in your gallery; $0.0124 was billed for them. Try again for the rest."),
        ("caption", 1, "0.0003", "Runware restarted and lost this task. 1 of 2 captions arrived and was kept; "
                                 "$0.0003 was billed for it. Try again for the rest."),
    ],
)
def test_a_lost_task_says_what_arrived_and_what_it_cost(task_type, arrived, cost, message):
    task = Task(task_type=task_type, number_results=4 if task_type == "imageInference" else 2,
                results_received=arrived, cost=Decimal(cost))
    error = forgotten(task, restarted=arrived > 0)
    assert error.full_message == message
    assert "billed" in error.message


def test_a_task_not_fetched_in_time_says_what_arrived_and_that_runware_may_still_bill():
    task = Task(task_type="imageInference", number_results=3, results_received=1, cost=Decimal("0.0062"))
    assert unrecovered(task).message == (
        "The connection to Runware was lost and the rest of this task did not come back in time. 1 of 3 "
        "images arrived and is in your gallery; $0.0062 was billed for it. Runware may still bill for the "
        "rest: check History before trying again."
    )
