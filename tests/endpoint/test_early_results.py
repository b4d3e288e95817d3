"""A result reaches the script as soon as Runware sends it; the portal stores it afterwards.

The script gets the image's id and the portal's URL before the file is stored: the URL waits for
the file, a task naming the image as an input waits for it, and the charge and the gallery image
are recorded as they always were.
"""

from __future__ import annotations

import asyncio
import io
import threading
import time
import uuid

import aiohttp
import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from PIL import Image as PILImage

from runware_web.endpoint import handlers, protocol, services, views
from runware_web.endpoint.models import EndpointCall
from runware_web.media.models import Image
from runware_web.media.store import save_image
from runware_web.money.models import Charge
from runware_web.runner import execute
from runware_web.upstream.models import Task
from tests.endpoint.helpers import amember_with_key, eventually, image_task, sdk

pytestmark = pytest.mark.django_db(transaction=True)


def png() -> bytes:
    out = io.BytesIO()
    PILImage.new("RGB", (8, 8), "teal").save(out, "PNG")
    return out.getvalue()


async def until(event: threading.Event, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not event.is_set() and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    return event.is_set()


@pytest.fixture
def held_stores(monkeypatch):
    """Images handed on to the script are not stored until the test sets the returned event."""
    release = threading.Event()
    real = handlers._save_image

    def held(*args, **kwargs):
        release.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(handlers, "_save_image", held)
    yield release
    release.set()


async def test_a_results_url_asked_for_before_the_image_is_stored_serves_it_once_stored(live_server_url, monkeypatch):
    member, _, _ = await amember_with_key()
    image_id = uuid.uuid4()
    looked = threading.Event()
    real = views._image_row

    def row(pk):
        found = real(pk)
        looked.set()
        return found

    monkeypatch.setattr(views, "_image_row", row)
    data = png()
    async with aiohttp.ClientSession() as session:
        request = asyncio.ensure_future(session.get(live_server_url + protocol.media_path(image_id, "png")))
        assert await until(looked)  # the URL was asked for, and the image was not there yet
        await database_sync_to_async(save_image)(user=member, data=data, image_id=image_id, lazy_thumbnail=True)
        async with await request as response:
            assert response.status == 200
            assert await response.read() == data


async def test_the_script_gets_its_images_before_they_are_stored_and_they_are_stored_under_its_ids(
        live_server_url, held_stores):
    member, _, plaintext = await amember_with_key()
    async with sdk(live_server_url, plaintext) as client:
        results = await asyncio.wait_for(client.run(image_task(numberResults=2)), 20)
        stored = await database_sync_to_async(lambda: Image.objects.filter(user=member).count())()
        held_stores.set()

    assert len(results) == 2 and stored == 0
    ids = {item["imageUUID"] for item in results}
    await eventually(lambda: not Task.objects.filter(user=member, finished_at__isnull=True).exists())
    gallery = await database_sync_to_async(lambda: {str(pk) for pk in Image.objects.filter(user=member).values_list("pk", flat=True)})()
    assert gallery == ids
    assert await database_sync_to_async(lambda: Charge.objects.filter(user=member).count())() == 2
    async with aiohttp.ClientSession() as session, session.get(results[0]["imageURL"]) as response:
        assert response.status == 200 and response.headers["Content-Type"].startswith("image/")


async def test_a_task_naming_an_image_the_script_was_just_handed_waits_for_it_to_be_stored(
        live_server_url, held_stores, monkeypatch):
    member, _, plaintext = await amember_with_key()
    waited = threading.Event()
    real = services._still_storing

    def still_storing(user_id):
        waited.set()
        return real(user_id)

    monkeypatch.setattr(services, "_still_storing", still_storing)
    async with sdk(live_server_url, plaintext) as client:
        [image] = await asyncio.wait_for(client.run(image_task()), 20)
        upscale = asyncio.ensure_future(client.run({
            "taskType": "upscale", "model": "runware:504@1", "upscaleFactor": 2,
            "inputs": {"image": image["imageUUID"]}, "deliveryMethod": "sync"}))
        assert await until(waited)  # the upscale found no such image yet, and waits
        held_stores.set()
        [upscaled] = await asyncio.wait_for(upscale, 20)

    await eventually(lambda: Image.objects.filter(pk=upscaled["imageUUID"]).exists())
    source = await database_sync_to_async(lambda: Image.objects.get(pk=image["imageUUID"]).width)()
    assert source == 512


async def test_a_result_for_a_socket_on_another_worker_goes_through_the_channel_layer():
    layer = get_channel_layer()
    session = uuid.uuid4()
    channel = await layer.new_channel()  # the socket, held by another worker: not on this one
    await layer.group_add(handlers.session_group(7, session), channel)
    call = EndpointCall(task_id=uuid.uuid4(), user_id=7, session=session)
    message = {"type": "endpoint.result", "items": [{"taskType": "imageInference"}]}
    await handlers._push(call, message)
    assert await asyncio.wait_for(layer.receive(channel), 10) == message


async def test_a_script_fetching_its_image_at_once_gets_it_as_soon_as_it_is_stored(live_server_url, held_stores, monkeypatch):
    """The script asks for its result's URL before the file is stored: the answer comes the moment
    the worker has stored it, not at the URL's next look for it (here 20 s away)."""
    monkeypatch.setattr(views, "MEDIA_POLL_SECONDS", 20.0)
    monkeypatch.setattr(views, "MEDIA_WAIT_SECONDS", 60.0)
    _, _, plaintext = await amember_with_key()
    async with sdk(live_server_url, plaintext) as client:
        [result] = await asyncio.wait_for(client.run(image_task()), 20)
    async with aiohttp.ClientSession() as session:
        fetch = asyncio.ensure_future(session.get(result["imageURL"]))
        await until_awaited(image_id_of(result))  # the URL is waiting for the file
        held_stores.set()
        async with await asyncio.wait_for(fetch, 10) as response:
            assert response.status == 200 and await response.read() == await stored_bytes(image_id_of(result))


async def test_a_script_waiting_for_its_image_has_it_stored_without_the_book_keepings_wait(live_server_url, monkeypatch):
    """A result's book-keeping waits a moment for the script's next task (runner.execute); a script
    fetching the result's file is not kept waiting by that moment (here 30 s)."""
    monkeypatch.setattr(execute, "GRACE_SECONDS", 30.0)
    _, _, plaintext = await amember_with_key()
    async with sdk(live_server_url, plaintext) as client:
        [result] = await asyncio.wait_for(client.run(image_task()), 20)
        async with aiohttp.ClientSession() as session, await asyncio.wait_for(
                session.get(result["imageURL"]), 10) as response:
            assert response.status == 200 and response.headers["Content-Type"].startswith("image/")
            assert await response.read() == await stored_bytes(image_id_of(result))


def image_id_of(result: dict) -> uuid.UUID:
    return uuid.UUID(result["imageUUID"])


async def until_awaited(image_id: uuid.UUID, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while image_id not in handlers._awaited:
        assert time.monotonic() < deadline, "nobody waited for the image"
        await asyncio.sleep(0.02)


@database_sync_to_async
def stored_bytes(image_id: uuid.UUID) -> bytes:
    with Image.objects.get(pk=image_id).file.open("rb") as handle:
        return handle.read()
