"""The 3D page's socket against the simulator: a model's whole life, and bad input refused."""

from __future__ import annotations

import io
import re
import struct
from decimal import Decimal
from html import escape
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from PIL import Image as PILImage

from runware_web.media.models import Image
from runware_web.media.store import save_image
from runware_web.money.models import Charge
from runware_web.threed.routing import websocket_urlpatterns
from runware_web.upstream.models import Task
from tests.conftest import acreate_user
from tests.life import receive_until

pytestmark = pytest.mark.django_db(transaction=True)

PROMPT = "a small clay teapot"
threed_app = URLRouter(websocket_urlpatterns)


def request(**fields: Any) -> dict[str, Any]:
    data = {
        "action": "generate",
        "model": "tencent:hunyuan-3d@3.1-rapid",
        "positivePrompt": PROMPT,
        "image": "",
        "seed": "",
        "numberResults": "1",
        "HEADERS": {"HX-Request": "true"},
    }
    data.update({name: str(value) for name, value in fields.items()})
    return data


async def connect(user) -> WebsocketCommunicator:
    ws = WebsocketCommunicator(threed_app, "/ws/3d/")
    ws.scope["user"] = user
    connected, _ = await ws.connect()
    assert connected
    await ws.receive_from(timeout=10)  # the recent models
    return ws


async def started(ws: WebsocketCommunicator) -> str:
    card = await receive_until(ws, lambda f: 'id="mesh-task-' in f)
    return re.search(r'id="mesh-task-([0-9a-f-]{36})"', card).group(1)


@database_sync_to_async
def stored(task_id: str) -> tuple[Task, list[Image], list[Charge]]:
    task = Task.objects.get(pk=task_id)
    return task, list(task.images.order_by("created_at")), list(Charge.objects.filter(task=task))


@database_sync_to_async
def task_count() -> int:
    return Task.objects.count()


@database_sync_to_async
def an_image_of(user, colour: str) -> Image:
    out = io.BytesIO()
    picture = PILImage.new("RGB", (64, 64), colour)
    picture.paste((255, 255, 255), (16, 16, 48, 48))
    picture.save(out, format="PNG")
    return save_image(user=user, data=out.getvalue(), prompt="a white square on red")


def glb_parts(data: bytes) -> dict:
    import json

    assert data[:4] == b"glTF"
    length, kind = struct.unpack_from("<I4s", data, 12)
    assert kind == b"JSON"
    return json.loads(data[20 : 20 + length])


async def test_a_model_from_a_prompt_is_followed_stored_as_3d_with_a_thumbnail_and_charged(
    upstream, media_latency
):
    alice = await acreate_user("alice")
    ws = await connect(alice)
    await ws.send_json_to(request(seed=11))
    task_id = await started(ws)

    progress = await receive_until(ws, lambda f: f'id="mesh-task-{task_id}"' in f and "progress-percent" in f)
    assert re.search(r'<progress max="100" value="\d+"', progress)
    done = await receive_until(ws, lambda f: f'id="mesh-task-{task_id}"' in f and "Done" in f)
    assert "<model-viewer" in done
    await upstream.wait(task_id)

    task, meshes, charges = await stored(task_id)
    assert task.status == Task.Status.DONE and task.delivery == "async"
    [mesh] = meshes
    assert mesh.media_type == Image.MediaType.MODEL_3D and mesh.content_type == "model/gltf-binary"
    assert mesh.kind == Image.Kind.GENERATED and mesh.prompt == PROMPT and mesh.seed == 11
    with mesh.file.open("rb") as handle:
        data = handle.read()
    assert glb_parts(data)["meshes"] and mesh.size_bytes == len(data)
    with mesh.thumbnail.open("rb") as handle, PILImage.open(handle) as thumb:
        assert thumb.format == "WEBP"
        opaque = thumb.convert("RGBA").getchannel("A").histogram()[255]
    assert opaque > 0.1 * thumb.width * thumb.height  # the model is drawn, not an empty square
    # Hunyuan3D 3.1 Rapid: $0.1 a model; the ledger holds what Runware charged.
    assert mesh.cost == Decimal("0.1") == sum(charge.amount for charge in charges) == task.cost
    assert f"/gallery/{mesh.pk}/file" in done and f"/gallery/{mesh.pk}/thumb" in done
    await ws.disconnect()


async def test_a_model_from_one_of_the_members_images_is_built_from_that_image(upstream):
    alice = await acreate_user("alice")
    picture = await an_image_of(alice, "red")
    ws = await connect(alice)
    await ws.send_json_to(request(model="microsoft:trellis-2@4b", positivePrompt="", image=picture.pk))
    task_id = await started(ws)
    await upstream.wait(task_id)
    task, meshes, charges = await stored(task_id)
    assert task.status == Task.Status.DONE, task.error_message
    assert task.params["inputs"] == {"image": f"portal-image:{picture.pk}"}  # a reference, not megabytes
    [mesh] = meshes
    with mesh.file.open("rb") as handle:
        assert glb_parts(handle.read())["meshes"][0]["name"] == "relief"  # the simulator's mesh of an image
    assert mesh.cost == Decimal("0.0256") == sum(charge.amount for charge in charges)
    await ws.disconnect()


async def test_an_image_only_model_without_an_image_or_another_members_image_is_refused_and_nothing_is_sent(
    upstream,
):
    alice, bob = await acreate_user("alice"), await acreate_user("bob")
    bobs = await an_image_of(bob, "blue")
    ws = await connect(alice)
    await ws.send_json_to(request(model="microsoft:trellis-2@4b"))
    answer = await ws.receive_from(timeout=10)
    assert re.search(r'id="errors-image"[^>]*><span>TRELLIS 2 builds 3D from an image: choose one', answer)
    assert re.search(r'id="errors-positivePrompt"[^>]*></div>', answer)

    await ws.send_json_to(request(image=bobs.pk))
    answer = await ws.receive_from(timeout=10)
    assert re.search(r'id="errors-image"[^>]*><span>Select a valid choice', answer)

    await ws.send_json_to(request(positivePrompt=""))
    answer = await ws.receive_from(timeout=10)
    assert re.search(
        r'id="errors-positivePrompt"[^>]*><span>Describe what to build, or start from an image', answer
    )
    assert await task_count() == 0
    await ws.disconnect()


async def test_a_cancelled_model_still_arrives_and_is_saved_and_charged_as_runware_bills_it(
    upstream, media_latency
):
    alice = await acreate_user("alice")
    ws = await connect(alice)
    await ws.send_json_to(request())
    task_id = await started(ws)

    await ws.send_json_to({"action": "cancel", "task": task_id})
    cancelled = await receive_until(ws, lambda f: f'id="mesh-task-{task_id}"' in f and "Cancelled" in f)
    assert "Runware still bills what it has started" in cancelled
    await upstream.wait(task_id)

    task, meshes, charges = await stored(task_id)
    assert task.status == Task.Status.CANCELLED
    assert len(meshes) == 1 and meshes[0].file.size > 0
    assert meshes[0].cost == Decimal("0.1") == sum(charge.amount for charge in charges)
    await ws.disconnect()


async def test_a_failed_model_says_why_on_its_card_and_nothing_is_charged(upstream, media_latency):
    alice = await acreate_user("alice")
    ws = await connect(alice)
    await ws.send_json_to(request(positivePrompt="a vase [sim:fail=inferenceError]"))
    task_id = await started(ws)

    failed = await receive_until(
        ws, lambda f: f'id="mesh-task-{task_id}"' in f and "This 3D model failed" in f
    )
    await upstream.wait(task_id)
    task, meshes, charges = await stored(task_id)
    assert task.status == Task.Status.FAILED and task.error_message
    assert escape(task.error_message) in failed
    assert meshes == [] and charges == []
    await ws.disconnect()


async def test_every_tab_of_the_member_follows_a_model_and_another_member_cannot_cancel_it(
    upstream, media_latency
):
    alice, bob = await acreate_user("alice"), await acreate_user("bob")
    ws, other_tab = await connect(alice), await connect(alice)
    await ws.send_json_to(request())
    task_id = await started(ws)
    await receive_until(other_tab, lambda f: f'id="mesh-task-{task_id}"' in f)

    intruder = await connect(bob)
    await intruder.send_json_to({"action": "cancel", "task": task_id})
    assert "There is no such 3D model of yours." in await intruder.receive_from(timeout=10)

    done = await receive_until(other_tab, lambda f: f'id="mesh-task-{task_id}"' in f and "Done" in f)
    assert "<model-viewer" in done
    await upstream.wait(task_id)
    task, meshes, _ = await stored(task_id)
    assert task.status == Task.Status.DONE and len(meshes) == 1
    for socket in (intruder, other_tab, ws):
        await socket.disconnect()
