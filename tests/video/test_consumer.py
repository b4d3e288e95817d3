"""The Video page's socket against the simulator: a video task's whole life, and bad input refused."""

from __future__ import annotations

import re
from decimal import Decimal
from html import escape
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from runware_web.media.models import Image
from runware_web.money.models import Charge
from runware_web.upstream.models import Task
from runware_web.video.routing import websocket_urlpatterns
from tests.conftest import acreate_user
from tests.life import receive_until

pytestmark = pytest.mark.django_db(transaction=True)

PROMPT = "waves rolling onto a pebble beach"
video_app = URLRouter(websocket_urlpatterns)


def request(**fields: Any) -> dict[str, Any]:
    data = {
        "action": "generate",
        "model": "bytedance:seedance@2.0-fast",
        "positivePrompt": PROMPT,
        "duration": "4",
        "width": "864",
        "height": "480",
        "seed": "",
        "numberResults": "1",
        "HEADERS": {"HX-Request": "true"},
    }
    data.update({name: str(value) for name, value in fields.items()})
    return data


async def connect(user) -> WebsocketCommunicator:
    ws = WebsocketCommunicator(video_app, "/ws/video/")
    ws.scope["user"] = user
    connected, _ = await ws.connect()
    assert connected
    await ws.receive_from(timeout=10)  # the recent videos
    return ws


@database_sync_to_async
def stored(task_id: str) -> tuple[Task, list[Image], list[Charge]]:
    task = Task.objects.get(pk=task_id)
    return task, list(task.images.all()), list(Charge.objects.filter(task=task))


@database_sync_to_async
def task_count() -> int:
    return Task.objects.count()


async def test_a_video_is_followed_through_its_progress_then_stored_with_its_file_and_charged(
    upstream, video_latency
):
    alice = await acreate_user("alice")
    ws = await connect(alice)
    await ws.send_json_to(request(seed=42))

    card = await receive_until(ws, lambda f: 'id="vid-' in f)
    task_id = re.search(r'id="vid-([0-9a-f-]{36})"', card).group(1)
    assert "Generating…" in card

    progress = await receive_until(ws, lambda f: f'id="vid-{task_id}"' in f and "progress-percent" in f)
    assert re.search(r'<progress max="100" value="\d+"', progress)

    done = await receive_until(ws, lambda f: f'id="vid-{task_id}"' in f and "Done" in f)
    assert "<video controls" in done
    await upstream.wait(task_id)

    task, videos, charges = await stored(task_id)
    assert task.status == Task.Status.DONE and task.delivery == "async"
    assert task.params["duration"] == 4 and task.params["numberResults"] == 1
    [video] = videos
    assert video.media_type == Image.MediaType.VIDEO and video.content_type == "video/mp4"
    assert "seed" not in task.params  # Seedance 2.0 Fast takes no seed: the form does not send one
    assert video.seed is not None and video.prompt == PROMPT
    assert video.duration == pytest.approx(4, abs=0.2)
    assert video.width > video.height  # the 864×480 aspect, as the simulator renders it
    with video.file.open("rb") as handle:
        head = handle.read(12)
    assert head[4:8] == b"ftyp" and video.size_bytes == video.file.size > 1000
    assert video.thumbnail and video.thumbnail.size > 0  # the poster frame
    # Seedance 2.0 Fast: $0.03 a second, 4 seconds; the ledger holds what Runware charged.
    assert video.cost == Decimal("0.12") == sum(charge.amount for charge in charges) == task.cost
    assert f"/gallery/{video.pk}/file" in done
    await ws.disconnect()


async def test_a_duration_or_size_the_model_does_not_make_is_refused_next_to_its_field_and_nothing_is_sent(
    upstream,
):
    alice = await acreate_user("alice")
    ws = await connect(alice)
    await ws.send_json_to(request(model="klingai:kling-video@3-standard", duration=7, width=1000, height=500))
    answer = await ws.receive_from(timeout=10)
    assert re.search(
        r'id="errors-duration"[^>]*><span>Kling 3.0 Standard makes videos of 5 or 10 seconds, not 7', answer
    )
    assert re.search(r'id="errors-width"[^>]*><span>Kling 3.0 Standard makes videos of 1280×720', answer)
    assert re.search(r'id="errors-positivePrompt"[^>]*></div>', answer)  # a valid field's box is emptied
    assert await task_count() == 0
    await ws.disconnect()


async def test_a_cancelled_video_still_arrives_and_is_saved_and_charged_as_runware_bills_it(
    upstream, video_latency
):
    alice = await acreate_user("alice")
    ws = await connect(alice)
    await ws.send_json_to(request())
    task_id = re.search(
        r'id="vid-([0-9a-f-]{36})"', await receive_until(ws, lambda f: 'id="vid-' in f)
    ).group(1)

    await ws.send_json_to({"action": "cancel", "task": task_id})
    cancelled = await receive_until(ws, lambda f: f'id="vid-{task_id}"' in f and "Cancelled" in f)
    assert "Runware still bills what it has started" in cancelled
    await upstream.wait(task_id)

    task, videos, charges = await stored(task_id)
    assert task.status == Task.Status.CANCELLED
    assert len(videos) == 1 and videos[0].file.size > 0
    assert videos[0].cost == Decimal("0.12") == sum(charge.amount for charge in charges)
    await ws.disconnect()


async def test_a_failed_video_says_why_on_its_card_and_nothing_is_charged(upstream, video_latency):
    alice = await acreate_user("alice")
    ws = await connect(alice)
    await ws.send_json_to(request(positivePrompt="a storm [sim:fail=inferenceError]"))
    task_id = re.search(
        r'id="vid-([0-9a-f-]{36})"', await receive_until(ws, lambda f: 'id="vid-' in f)
    ).group(1)

    failed = await receive_until(ws, lambda f: f'id="vid-{task_id}"' in f and "This video failed" in f)
    await upstream.wait(task_id)
    task, videos, charges = await stored(task_id)
    assert task.status == Task.Status.FAILED and task.error_message
    assert escape(task.error_message) in failed
    assert videos == [] and charges == []
    await ws.disconnect()


async def test_another_member_cannot_cancel_a_video_that_is_not_theirs(upstream, video_latency):
    alice, bob = await acreate_user("alice"), await acreate_user("bob")
    ws = await connect(alice)
    await ws.send_json_to(request())
    task_id = re.search(
        r'id="vid-([0-9a-f-]{36})"', await receive_until(ws, lambda f: 'id="vid-' in f)
    ).group(1)
    intruder = await connect(bob)
    await intruder.send_json_to({"action": "cancel", "task": task_id})
    assert "There is no such video of yours." in await intruder.receive_from(timeout=10)
    await upstream.wait(task_id)
    task, videos, _ = await stored(task_id)
    assert task.status == Task.Status.DONE and len(videos) == 1
    await intruder.disconnect()
    await ws.disconnect()
