"""Faults survived: the browser leaving mid-task loses nothing, and a dropped upstream connection
never leaves a task "running".

Every kind of task is started over its socket and the socket is closed at once; the task must
still finish, with its results saved and its cost in the ledger (one charge per result, summing
to Task.cost).
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from channels.db import database_sync_to_async
from django.db.models import Sum

from runware_web.chat.models import Conversation, Message
from runware_web.media.models import Image
from runware_web.money.models import Charge
from runware_web.tools.models import TextResult
from runware_web.upstream.models import Task
from tests.hardening.helpers import connected, drain, make_image, receive_until

pytestmark = pytest.mark.django_db(transaction=True)

GENERATE = {"action": "generate", "model": "runware:101@1", "width": "256", "height": "256", "steps": "4",
            "outputFormat": "PNG"}


@pytest.fixture
def slow_upstream(simulator):
    """Results and chunks take long enough that closing the socket happens mid-task."""
    simulator.set_latency(0.3)
    simulator.set_stream_chunk_delay(0.02)
    yield
    simulator.set_stream_chunk_delay(0.0)


def ledger(task: Task) -> tuple[int, Decimal, Decimal]:
    task.refresh_from_db()
    charges = Charge.objects.filter(task=task)
    return charges.count(), charges.aggregate(total=Sum("amount"))["total"] or Decimal(0), task.cost


async def start_and_leave(user, path: str, frame: dict) -> Task:
    """Send a request, close the socket right away, and return the task it started."""
    ws = await connected(user, path)
    await drain(ws)
    await ws.send_json_to(frame)
    await ws.disconnect()  # frames are handled in order: the request was submitted before this
    task = await Task.objects.filter(user=user).alatest("created_at")
    assert task.status in {Task.Status.QUEUED, Task.Status.RUNNING}, "the socket closed mid-task"
    return task


async def test_closing_the_studio_mid_generation_keeps_every_image_and_its_cost(user, upstream, slow_upstream):
    task = await start_and_leave(user, "/ws/studio/", {**GENERATE, "positivePrompt": "a lighthouse", "numberResults": "3"})
    await upstream.wait(task.pk)

    count, total, cost = await database_sync_to_async(ledger)(task)
    assert (await Task.objects.aget(pk=task.pk)).status == Task.Status.DONE
    assert await Image.objects.filter(task=task).acount() == 3
    assert count == 3 and total == cost > 0


async def test_closing_the_chat_mid_reply_keeps_the_whole_reply_and_its_cost(user, upstream, slow_upstream):
    conversation = await Conversation.objects.acreate(user=user, title="Lighthouses")
    task = await start_and_leave(user, f"/ws/chat/?conversation={conversation.pk}",
                                 {"action": "send", "conversation": str(conversation.pk),
                                  "content": "Explain how a lighthouse lens works, in detail."})
    await upstream.wait(task.pk)

    reply = await Message.objects.aget(task=task)
    count, total, cost = await database_sync_to_async(ledger)(task)
    assert (await Task.objects.aget(pk=task.pk)).status == Task.Status.DONE
    assert reply.status == Message.Status.DONE and len(reply.content) > 20
    assert reply.cost == cost
    assert count == 1 and total == cost > 0


async def test_closing_the_tools_page_mid_caption_keeps_the_caption_and_its_cost(user, upstream, slow_upstream):
    image = await database_sync_to_async(make_image)(user)
    task = await start_and_leave(user, f"/ws/tools/?image={image.pk}",
                                 {"action": "caption", "image": str(image.pk), "model": "runware:150@2"})
    await upstream.wait(task.pk)

    count, total, cost = await database_sync_to_async(ledger)(task)
    assert (await Task.objects.aget(pk=task.pk)).status == Task.Status.DONE
    assert await TextResult.objects.filter(task=task).exclude(text="").aexists()
    assert count == 1 and total == cost > 0


async def test_closing_the_tools_page_mid_upscale_keeps_the_image_and_its_cost(user, upstream, slow_upstream):
    image = await database_sync_to_async(make_image)(user)
    task = await start_and_leave(user, f"/ws/tools/?image={image.pk}",
                                 {"action": "upscale", "image": str(image.pk), "model": "runware:500@1",
                                  "upscaleFactor": "2", "outputFormat": "PNG"})
    await upstream.wait(task.pk)

    count, total, cost = await database_sync_to_async(ledger)(task)
    assert (await Task.objects.aget(pk=task.pk)).status == Task.Status.DONE
    upscaled = await Image.objects.aget(task=task)
    assert (upscaled.width, upscaled.height) == (image.width * 2, image.height * 2)
    assert count == 1 and total == cost > 0


@pytest.mark.parametrize("drop", [0, 1, 2])
async def test_a_dropped_upstream_connection_never_leaves_a_task_running(user, upstream, drop):
    """`[sim:drop=N]`: Runware's socket closes after N of the 3 results. The session resumes and the
    task ends: done with every image (recovered with getResponse), or failed saying so; whatever
    was billed is in the ledger and matches the images kept."""
    ws = await connected(user, "/ws/studio/")
    await drain(ws)
    await ws.send_json_to({**GENERATE, "positivePrompt": f"a harbour at night [sim:drop={drop}]", "numberResults": "3"})
    await receive_until(ws, lambda frame: 'id="gen-' in frame)
    task = await Task.objects.aget(user=user)
    await upstream.wait(task.pk)
    task = await Task.objects.aget(pk=task.pk)

    assert task.status in {Task.Status.DONE, Task.Status.FAILED}
    count, total, cost = await database_sync_to_async(ledger)(task)
    images = await Image.objects.filter(task=task).acount()
    assert total == cost and count == images
    if task.status == Task.Status.DONE:
        assert images == 3
    else:
        assert "billed" in task.error_message
    card = await receive_until(ws, lambda frame: f"gen-{task.pk}" in frame and f"generation-{task.status}" in frame)
    assert card, "the page is told how it ended"
    await ws.disconnect()
