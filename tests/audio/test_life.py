"""An audio clip's guarantees, as a video's: it survives the tab that asked for it and the worker that
sent it (a new worker adopts it and keeps polling getResponse), is stored with its file and charged
once, and a tab opened later shows it done."""

from __future__ import annotations

from decimal import Decimal

import pytest

from runware_web.media.models import Image
from runware_web.upstream.models import Task
from tests.audio.test_consumer import TEXT, audio_app, connect, request, started
from tests.conftest import acreate_user
from tests.life import (
    charge_count,
    file_head,
    gallery_of,
    left_by_a_dead_worker,
    open_tab,
    receive_until,
    stored,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.sole_worker]  # see tests.browser

TURBO = "elevenlabs:25@1"  # $0.05 per 1000 characters: TEXT's 52 cost $0.0026


def is_mp3(head: bytes) -> bool:
    return head.startswith(b"ID3") or (head[0] == 0xFF and head[1] & 0xE0 == 0xE0)


async def test_a_clip_whose_tab_was_closed_still_finishes_is_charged_and_a_new_tab_shows_it(
    upstream, media_latency
):
    alice = await acreate_user("alice")
    ws = await connect(alice)
    await ws.send_json_to(request())
    task_id = await started(ws)
    await ws.disconnect()  # the tab is closed before Runware has made anything

    await upstream.wait(task_id)
    task, [clip], charges = await stored(task_id)
    assert task.status == Task.Status.DONE and clip.media_type == Image.MediaType.AUDIO
    assert clip.file.size > 1000 and is_mp3(file_head(clip)) and clip.duration > 2
    assert clip.cost == Decimal("0.0026") == sum(charge.amount for charge in charges) == task.cost
    assert len(charges) == 1 and await charge_count() == 1

    again, recent = await open_tab(audio_app, "/ws/audio/", alice)  # a reload shows it done, playing
    assert f'id="aud-{task_id}"' in recent and "<audio controls" in recent
    assert f"/gallery/{clip.pk}/file" in recent
    await again.send_json_to({"action": "cancel", "task": task_id})
    assert "That audio clip has already ended" in await again.receive_from(timeout=10)
    await again.disconnect()
    page = await gallery_of(alice, "?media=audio")
    assert f"/gallery/{clip.pk}/" in page and TEXT in page


async def test_a_clip_left_by_a_dead_worker_is_adopted_and_polled_to_the_end(upstream, settings, media_latency):
    """A worker sent the clip (async delivery) and died: this worker finds its task once the lease ran
    out, keeps polling getResponse until Runware has made it (longer than a sync task's recovery may
    last), stores it and charges it once; the member's open tab sees it done."""
    settings.RUNWARE_RECOVERY_TIMEOUT = 0.5  # the clip takes ~1.5 s: only its own time limit holds
    alice = await acreate_user("alice")
    params = {
        "model": TURBO,
        "speech": {"text": TEXT, "voice": "Rachel"},
        "numberResults": 1,
        "outputFormat": "MP3",
        "outputType": "URL",
    }
    task = await left_by_a_dead_worker(alice, feature="audio", task_type="audioInference", params=params)
    ws = await connect(alice)
    await upstream.recover_orphans()  # the scan every worker runs (its own may have run first)
    done = await receive_until(ws, lambda f: f'id="aud-{task.pk}"' in f and "Done" in f, timeout=30)
    await upstream.wait(task.pk)

    task, [clip], charges = await stored(task.pk)
    assert task.status == Task.Status.DONE and task.worker == upstream.worker_id
    assert clip.media_type == Image.MediaType.AUDIO and clip.prompt == TEXT
    assert clip.file.size > 1000 and is_mp3(file_head(clip)) and clip.thumbnail  # the waveform
    assert len(charges) == 1 and clip.cost == Decimal("0.0026") == task.cost
    assert await charge_count() == 1
    assert "<audio controls" in done and f"/gallery/{clip.pk}/file" in done
    assert await upstream.recover_orphans() == 0
    await ws.disconnect()
