"""Faults survived: the disk where images go fills up while a generation runs.

Runware has made and billed the images, so they are charged once and kept (their URLs, in the
database); the card says that the disk is full and the images will be saved once there is room.
When room is made, the runner stores them on its own: they appear on the open page and in the
gallery, with their files, and the ledger still holds exactly one charge per image.
The disk is really full: a small tmpfs filled by a file (tests/full_disk.py).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connections
from django.db.models import Sum
from django.test import AsyncClient, Client
from django.urls import reverse

from runware_web.media import pending
from runware_web.media.models import Image, PendingResult
from runware_web.money.models import Charge
from runware_web.runner import waiting
from runware_web.upstream.models import Task
from tests.full_disk import full_disk
from tests.hardening.helpers import connected, drain, make_image, png_bytes, receive_until
from tests.hardening.test_uploads import ENDPOINTS, post_upload

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.sole_worker]  # see tests.browser

IMAGES = 2
FULL = "The disk where the portal keeps images is full"
GENERATE = {"action": "generate", "model": "runware:101@1", "width": "256", "height": "256", "steps": "4",
            "outputFormat": "PNG", "positivePrompt": "a lighthouse in a storm", "numberResults": str(IMAGES)}


@pytest.fixture
def disk(settings, tmp_path):
    """Media go to a small tmpfs, and every worker looks for waiting results every 0.2 s."""
    settings.RUNWARE_STORE_RETRY_SECONDS = 0.2
    with full_disk(tmp_path / "media") as mounted:
        settings.MEDIA_ROOT = str(mounted.path)
        yield mounted


def charges(task: Task) -> tuple[int, Decimal]:
    rows = Charge.objects.filter(task=task)
    return rows.count(), rows.aggregate(total=Sum("amount"))["total"] or Decimal(0)


async def media_health() -> dict:
    return (await AsyncClient().get("/healthz")).json()["checks"]["media"]


async def test_images_billed_while_the_disk_is_full_are_saved_once_there_is_room(user, upstream, disk):
    disk.fill()
    ws = await connected(user, "/ws/studio/")
    await drain(ws)
    await ws.send_json_to(GENERATE)
    await receive_until(ws, lambda frame: 'id="gen-' in frame)
    task = await Task.objects.aget(user=user)

    # The card says what happened and what will happen, in words for a person.
    card = await receive_until(ws, lambda frame: FULL in frame and "generation-done" in frame)
    assert f"{IMAGES} images are waiting and will be saved as soon as there is room" in card
    assert "nothing is billed twice" in card
    assert str(disk.path) not in card and "Errno" not in card
    # Nothing lost: both results kept, each charged once; nothing half written on the disk.
    task = await Task.objects.aget(pk=task.pk)
    count, total = await database_sync_to_async(charges)(task)
    assert count == IMAGES and total == task.cost > 0
    assert await PendingResult.objects.filter(task=task).acount() == IMAGES
    assert await Image.objects.filter(task=task).acount() == 0 and disk.files() == []
    health = await media_health()
    assert health["ok"] is False and f"{IMAGES} billed results waiting" in health["detail"]

    disk.make_room()
    room_made = time.monotonic()
    landed = await receive_until(ws, lambda frame: f'id="gen-{task.pk}"' in frame and frame.count("<img") == IMAGES)
    print(f"the images landed {time.monotonic() - room_made:.2f} s after room was made")

    assert FULL not in landed and "generation-done" in landed
    images = [image async for image in Image.objects.filter(task=task)]
    assert len(images) == IMAGES
    assert all(image.file.storage.exists(image.file.name) for image in images)
    assert sum(image.cost for image in images) == task.cost
    assert not await PendingResult.objects.filter(task=task).aexists()
    assert (await Task.objects.aget(pk=task.pk)).status == Task.Status.DONE
    assert await database_sync_to_async(charges)(task) == (count, total)  # stored later, billed once
    assert (await media_health())["ok"] is True
    # The gallery shows them.
    gallery = await database_sync_to_async(gallery_page)(user)
    assert all(str(image.pk) in gallery for image in images)
    await ws.disconnect()


async def images_waiting_and_the_runner_stopped(user, upstream, disk) -> tuple[WebsocketCommunicator, Task]:
    """A generation of IMAGES images on a full disk, both kept waiting, then the runner stopped (a
    worker restarting); the studio's socket and the task."""
    disk.fill()
    ws = await connected(user, "/ws/studio/")
    await drain(ws)
    await ws.send_json_to(GENERATE)
    await receive_until(ws, lambda frame: 'id="gen-' in frame)
    task = await Task.objects.aget(user=user)
    await upstream.wait(task.pk)
    await upstream.shutdown(grace=5)
    assert await PendingResult.objects.filter(task=task).acount() == IMAGES
    return ws, task


async def test_results_kept_for_want_of_room_outlive_the_runner_that_kept_them(user, upstream, disk):
    """The runner stops (a worker restarting) with results waiting; the next one stores them."""
    ws, task = await images_waiting_and_the_runner_stopped(user, upstream, disk)

    disk.make_room()
    await upstream.ensure_started()  # the worker is back
    landed = await receive_until(ws, lambda frame: f'id="gen-{task.pk}"' in frame and frame.count("<img") == IMAGES)

    assert FULL not in landed
    assert await Image.objects.filter(task=task).acount() == IMAGES
    assert (await database_sync_to_async(charges)(task))[0] == IMAGES
    await ws.disconnect()


async def test_an_upscale_billed_while_the_disk_is_full_is_saved_once_there_is_room(user, upstream, disk):
    source = await database_sync_to_async(make_image)(user)
    disk.fill()
    ws = await connected(user, f"/ws/tools/?image={source.pk}")
    await drain(ws)
    await ws.send_json_to({"action": "upscale", "image": str(source.pk), "model": "runware:500@1",
                           "upscaleFactor": "2", "outputFormat": "PNG"})

    card = await receive_until(ws, lambda frame: FULL in frame)
    assert "no need to run it again" in card and "could not be saved" not in card
    task = await Task.objects.aget(user=user, task_type="upscale")
    assert await PendingResult.objects.filter(task=task).acount() == 1

    disk.make_room()
    await receive_until(ws, lambda frame: "Open in gallery" in frame and FULL not in frame)
    upscaled = await Image.objects.aget(task=task)
    assert (upscaled.width, upscaled.height) == (source.width * 2, source.height * 2)
    assert upscaled.file.storage.exists(upscaled.file.name)
    assert (await database_sync_to_async(charges)(task))[0] == 1
    await ws.disconnect()


def gallery_page(user) -> str:
    client = Client()
    client.force_login(user)
    return client.get("/gallery/").content.decode()


@pytest.mark.parametrize("endpoint", ["studio upload", "tools upload"])
def test_an_upload_that_finds_the_disk_full_says_so_and_stores_nothing(user, disk, endpoint):
    disk.fill()
    client = Client()
    client.force_login(user)
    upload = SimpleUploadedFile("photo.png", png_bytes(256, 256), content_type="image/png")
    page = post_upload(client, endpoint, upload)
    assert page.status_code == 507
    assert "The portal's storage is full" in page.content.decode()
    assert "Nothing was sent to Runware or billed" in page.content.decode()

    upload.seek(0)
    url_name, fields, file_field = ENDPOINTS[endpoint]
    toast = client.post(reverse(url_name), {**fields, file_field: upload}, headers={"HX-Request": "true"})
    assert toast.status_code == 200 and toast["HX-Reswap"] == "none"  # the form the member filled stays
    assert 'role="alert"' in toast.content.decode() and "storage is full" in toast.content.decode()
    assert not Image.objects.exists() and not Task.objects.exists()
    assert disk.files() == []  # nothing half written


async def test_two_workers_storing_a_tasks_waiting_images_at_once_leave_its_card_complete(
    user, upstream, disk, monkeypatch
):
    """Room is made; this worker stores one waiting image while another worker stores the other:
    the other's card (nothing waiting) reaches the page first, this one's (counted before the other
    stored) after it. The page must not be left saying that an image is still waiting."""
    # With the runner stopped, no worker of its own looks for the waiting results: this test does.
    ws, task = await images_waiting_and_the_runner_stopped(user, upstream, disk)
    await drain(ws)

    database = ThreadPoolExecutor(max_workers=1)
    published = waiting.publish

    async def publish_after_the_other_worker(*args):
        if not other_stored:
            other_stored.append(True)
            # The other worker claims and stores the other image (the one still due: this worker
            # holds its own), and sends its card, meanwhile.
            [other] = await database_sync_to_async(pending.due)()
            row = await database_sync_to_async(pending.claim)(other, "the-other-worker")
            assert await waiting._store(row, database) == "stored"
        await published(*args)

    other_stored: list[bool] = []
    monkeypatch.setattr(waiting, "publish", publish_after_the_other_worker)
    disk.make_room()
    assert await waiting.store_waiting("this-worker", database) == 1  # the other was the other's
    database.submit(connections.close_all).result()  # as the runner's shutdown does
    database.shutdown()

    cards = [frame for frame in await drain(ws) if f'id="gen-{task.pk}"' in frame]
    assert len(cards) >= 2
    assert cards[-1].count("<img") == IMAGES and FULL not in cards[-1] and "waiting" not in cards[-1]
    assert not await PendingResult.objects.filter(task=task).aexists()
    await ws.disconnect()
