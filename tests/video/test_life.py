"""A video's guarantees, as an image's: it survives the tab that asked for it and the worker that
sent it (a new worker adopts it and keeps polling getResponse), every open tab of the member follows
it, each result's cost lands in the ledger, and a failure says why and what to try."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from runware_web.media.models import Image
from runware_web.upstream.models import Task
from tests.conftest import acreate_user
from tests.life import charge_count, gallery_of, left_by_a_dead_worker, receive_until, stored
from tests.video.test_consumer import PROMPT, connect, request

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.sole_worker]  # see tests.browser

SEEDANCE_FAST = "bytedance:seedance@2.0-fast"


async def started(ws) -> str:
    card = await receive_until(ws, lambda f: 'id="vid-' in f)
    return re.search(r'id="vid-([0-9a-f-]{36})"', card).group(1)


async def test_a_video_whose_tab_was_closed_still_finishes_and_is_in_the_gallery(upstream, video_latency):
    alice = await acreate_user("alice")
    ws = await connect(alice)
    await ws.send_json_to(request())
    task_id = await started(ws)
    await ws.disconnect()  # the tab is closed before Runware has made anything

    await upstream.wait(task_id)
    task, [video], charges = await stored(task_id)
    assert task.status == Task.Status.DONE and video.file.size > 0
    assert video.cost == Decimal("0.12") == sum(charge.amount for charge in charges)
    page = await gallery_of(alice, "?media=video")
    assert f"/gallery/{video.pk}/thumb" in page and PROMPT in page

    again = await connect(alice)  # a reload shows it done, playing
    await again.send_json_to({"action": "cancel", "task": task_id})
    assert "That video has already ended" in await again.receive_from(timeout=10)
    await again.disconnect()


async def test_every_open_tab_of_the_member_follows_the_video_and_nobody_elses_does(upstream, video_latency):
    alice, bob = await acreate_user("alice"), await acreate_user("bob")
    first, second, stranger = await connect(alice), await connect(alice), await connect(bob)
    await first.send_json_to(request())
    task_id = await started(first)
    on_second = await receive_until(second, lambda f: f'id="vid-{task_id}"' in f)
    assert "Generating…" in on_second  # the other tab shows the new card at once
    await receive_until(second, lambda f: f'id="vid-{task_id}"' in f and "progress-percent" in f)
    done = await receive_until(second, lambda f: f'id="vid-{task_id}"' in f and "Done" in f)
    assert "<video controls" in done
    await upstream.wait(task_id)
    assert await stranger.receive_nothing(timeout=0.5)
    for ws in (first, second, stranger):
        await ws.disconnect()


async def test_each_video_of_a_task_is_charged_once_in_the_ledger(upstream, video_latency):
    alice = await acreate_user("alice")
    ws = await connect(alice)
    await ws.send_json_to(request(numberResults=2, duration=6))
    task_id = await started(ws)
    done = await receive_until(ws, lambda f: f'id="vid-{task_id}"' in f and "Done" in f)
    await upstream.wait(task_id)

    task, videos, charges = await stored(task_id)
    assert len(videos) == 2 and len(charges) == 2
    assert {charge.result_key for charge in charges} == {video.runware_uuid for video in videos}
    assert all(video.cost == Decimal("0.18") for video in videos)  # 6 s × $0.03 each
    assert task.cost == sum(charge.amount for charge in charges) == Decimal("0.36")
    assert "$0.36" in done and done.count("<video controls") == 2
    await ws.disconnect()


async def test_a_failed_video_says_why_and_what_to_try(upstream, video_latency):
    alice = await acreate_user("alice")
    ws = await connect(alice)
    await ws.send_json_to(request(positivePrompt="a storm [sim:fail=inferenceError]"))
    task_id = await started(ws)
    failed = await receive_until(ws, lambda f: f'id="vid-{task_id}"' in f and "This video failed" in f)
    await upstream.wait(task_id)
    task, _, charges = await stored(task_id)
    assert task.status == Task.Status.FAILED and charges == []
    words = re.search(r"This video failed\.</strong>([^<]+)</div>", failed).group(1).lower()
    assert "try" in words, words  # what to do next, not only what went wrong
    await ws.disconnect()


async def test_a_video_left_by_a_dead_worker_is_adopted_and_polled_to_the_end(
    upstream, settings, video_latency
):
    """A worker sent the video (async delivery) and died: this worker finds its task once the lease
    ran out, keeps polling getResponse until Runware has made it (longer than a sync task's recovery
    may last: a video takes minutes), stores it and charges it once; the member's open tab sees its
    progress, then sees it done."""
    settings.RUNWARE_RECOVERY_TIMEOUT = 0.5  # the video takes ~1.8 s: only its own time limit holds
    alice = await acreate_user("alice")
    params = {
        "model": SEEDANCE_FAST,
        "positivePrompt": PROMPT,
        "duration": 4,
        "width": 864,
        "height": 480,
        "numberResults": 1,
        "outputFormat": "MP4",
        "outputType": "URL",
    }
    # What the dead worker sent: acknowledged at once, the video still to be made.
    task = await left_by_a_dead_worker(alice, feature="video", task_type="videoInference", params=params)
    ws = await connect(alice)
    await upstream.recover_orphans()  # the scan every worker runs (its own may have run first)
    progress = await receive_until(ws, lambda f: f'id="vid-{task.pk}"' in f and "progress-percent" in f, timeout=30)
    assert "Done" not in progress
    done = await receive_until(ws, lambda f: f'id="vid-{task.pk}"' in f and "Done" in f, timeout=30)
    await upstream.wait(task.pk)

    task, [video], charges = await stored(str(task.pk))
    assert task.status == Task.Status.DONE and task.worker == upstream.worker_id
    assert video.media_type == Image.MediaType.VIDEO and video.file.size > 0 and video.thumbnail
    assert len(charges) == 1 and video.cost == Decimal("0.12") == task.cost
    assert f"/gallery/{video.pk}/file" in done
    assert await charge_count() == 1
    assert await upstream.recover_orphans() == 0
    await ws.disconnect()
