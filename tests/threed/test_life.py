"""A 3D model's guarantees, as a video's: it survives the tab that asked for it and the worker that
sent it (a new worker adopts it and keeps polling getResponse), is stored with its file and charged
once, and a tab opened later shows it done."""

from __future__ import annotations

from decimal import Decimal

import pytest

from runware_web.media.models import Image
from runware_web.upstream.models import Task
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
from tests.threed.test_consumer import PROMPT, connect, request, started, threed_app

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.sole_worker]  # see tests.browser

RAPID = "tencent:hunyuan-3d@3.1-rapid"  # $0.1 a model


async def test_a_model_whose_tab_was_closed_still_finishes_is_charged_and_a_new_tab_shows_it(
    upstream, media_latency
):
    alice = await acreate_user("alice")
    ws = await connect(alice)
    await ws.send_json_to(request())
    task_id = await started(ws)
    await ws.disconnect()  # the tab is closed before Runware has made anything

    await upstream.wait(task_id)
    task, [mesh], charges = await stored(task_id)
    assert task.status == Task.Status.DONE and mesh.media_type == Image.MediaType.MODEL_3D
    assert file_head(mesh, 4) == b"glTF" and mesh.size_bytes == mesh.file.size > 100
    assert mesh.thumbnail and mesh.thumbnail.size > 0
    assert mesh.cost == Decimal("0.1") == sum(charge.amount for charge in charges) == task.cost
    assert len(charges) == 1 and await charge_count() == 1

    again, recent = await open_tab(threed_app, "/ws/3d/", alice)  # a reload shows it done, to turn around
    assert f'id="mesh-task-{task_id}"' in recent and "<model-viewer" in recent
    assert f"/gallery/{mesh.pk}/file" in recent
    await again.send_json_to({"action": "cancel", "task": task_id})
    assert "That 3D model has already ended" in await again.receive_from(timeout=10)
    await again.disconnect()
    page = await gallery_of(alice, "?media=3d")
    assert f"/gallery/{mesh.pk}/thumb" in page and PROMPT in page


async def test_a_model_left_by_a_dead_worker_is_adopted_and_polled_to_the_end(upstream, settings, media_latency):
    """A worker sent the model (async delivery) and died: this worker finds its task once the lease ran
    out, keeps polling getResponse until Runware has made it (longer than a sync task's recovery may
    last), stores it and charges it once; the member's open tab sees its progress, then sees it done."""
    settings.RUNWARE_RECOVERY_TIMEOUT = 0.5  # the model takes ~1.6 s: only its own time limit holds
    alice = await acreate_user("alice")
    params = {
        "model": RAPID,
        "positivePrompt": PROMPT,
        "numberResults": 1,
        "outputFormat": "GLB",
        "outputType": "URL",
    }
    task = await left_by_a_dead_worker(alice, feature="threed", task_type="3dInference", params=params)
    ws = await connect(alice)
    await upstream.recover_orphans()  # the scan every worker runs (its own may have run first)
    progress = await receive_until(
        ws, lambda f: f'id="mesh-task-{task.pk}"' in f and "progress-percent" in f, timeout=30
    )
    assert "Done" not in progress
    done = await receive_until(ws, lambda f: f'id="mesh-task-{task.pk}"' in f and "Done" in f, timeout=30)
    await upstream.wait(task.pk)

    task, [mesh], charges = await stored(task.pk)
    assert task.status == Task.Status.DONE and task.worker == upstream.worker_id
    assert mesh.media_type == Image.MediaType.MODEL_3D and mesh.prompt == PROMPT
    assert file_head(mesh, 4) == b"glTF" and mesh.thumbnail
    assert len(charges) == 1 and mesh.cost == Decimal("0.1") == task.cost
    assert await charge_count() == 1
    assert "<model-viewer" in done and f"/gallery/{mesh.pk}/file" in done
    assert await upstream.recover_orphans() == 0
    await ws.disconnect()
