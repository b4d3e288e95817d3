"""The tools over /ws/tools/: each tool against the simulator, refusals, costs, links, isolation."""

from __future__ import annotations

import html
import io
from decimal import Decimal
from urllib.parse import quote

import pytest
from channels.db import database_sync_to_async
from PIL import Image as PILImage

from runware_web.media.models import Image
from runware_web.money.models import Charge
from runware_web.tools.models import TextResult, ToolRun
from runware_web.upstream.models import Task
from tests.tools.conftest import make_image, receive_until, started_task_id, tools_socket

pytestmark = pytest.mark.django_db(transaction=True)


@database_sync_to_async
def outcome(task_id: str) -> tuple[Task, list[Image], list[TextResult], list[Charge]]:
    task = Task.objects.get(pk=task_id)
    return task, list(task.images.all()), list(task.text_results.all()), list(task.charges.all())


async def run(ws, upstream, action: str, image: Image, **fields) -> tuple[str, str]:
    """Send a tool form; return the started task's id and the frame showing its outcome."""
    await ws.send_json_to({"action": action, "image": str(image.pk), **fields})
    task_id = started_task_id(await receive_until(ws, "tool-run-"))
    await upstream.wait(task_id)
    return task_id, await receive_until(ws, 'class="badge status-done"')


def opened(stored: Image) -> PILImage.Image:
    with stored.file.open("rb") as handle:
        picture = PILImage.open(io.BytesIO(handle.read()))
        picture.load()
    return picture


async def test_caption_describes_the_image_and_offers_it_as_the_prompt(user, image, upstream):
    ws = await tools_socket(user, image)
    task_id, frame = await run(ws, upstream, "caption", image, model="runware:150@2", prompt="")
    task, images, texts, charges = await outcome(task_id)

    assert task.task_type == "caption" and task.feature == "tools" and task.status == "done"
    assert task.params["inputs"]["image"] == f"portal-image:{image.pk}"  # the row keeps a reference, not bytes
    [caption] = texts
    assert "96x64" in caption.text  # the simulator describes the pixels it was sent
    assert caption.source_id == image.pk
    assert html.escape(caption.text) in frame
    assert f'href="/studio/?positivePrompt={html.escape(quote(caption.text))}"' in frame
    assert "Use as prompt" in frame
    assert images == []
    # The cost is saved exactly as Runware reported it, once.
    assert [c.amount for c in charges] == [caption.cost] and caption.cost > 0
    assert task.cost == caption.cost
    await ws.disconnect()


async def test_upscale_saves_a_larger_image_linked_to_its_source(user, image, upstream):
    ws = await tools_socket(user, image)
    task_id, frame = await run(ws, upstream, "upscale", image, model="runware:500@1", upscaleFactor="3", outputFormat="PNG")
    task, [upscaled], _, charges = await outcome(task_id)

    assert (upscaled.width, upscaled.height) == (288, 192)
    assert upscaled.kind == Image.Kind.UPSCALED
    assert upscaled.source_id == image.pk and upscaled.task_id == task.pk
    assert upscaled.user_id == user.pk and upscaled.content_type == "image/png"
    assert upscaled.cost == task.cost == sum(c.amount for c in charges) > 0
    assert f"/gallery/{upscaled.pk}/" in frame and "288×192" in frame and "(from 96×64)" in frame
    await ws.disconnect()


async def test_remove_background_leaves_a_transparent_background(user, image, upstream):
    ws = await tools_socket(user, image)
    task_id, _ = await run(ws, upstream, "removeBackground", image, model="runware:109@1", outputFormat="PNG",
                           rgba="#ffffff", rgbaAlpha="0")
    _, [cutout], _, _ = await outcome(task_id)

    assert cutout.kind == Image.Kind.BACKGROUND_REMOVED and cutout.source_id == image.pk
    picture = opened(cutout)
    assert picture.mode == "RGBA"
    assert picture.getpixel((1, 1))[3] == 0  # the light background is gone
    assert picture.getpixel((48, 32))[3] == 255  # the subject stays
    await ws.disconnect()


async def test_remove_background_fills_with_the_chosen_colour_and_can_return_only_the_mask(user, image, upstream):
    ws = await tools_socket(user, image)
    task_id, _ = await run(ws, upstream, "removeBackground", image, model="runware:109@1", outputFormat="WEBP",
                           rgba="#ff0000", rgbaAlpha="100", alphaMatting="on",
                           alphaMattingForegroundThreshold="230", alphaMattingBackgroundThreshold="20",
                           alphaMattingErodeSize="3")
    task, [filled], _, _ = await outcome(task_id)
    assert task.params["settings"]["rgba"] == [255, 0, 0, 1]
    assert task.params["settings"]["alphaMattingForegroundThreshold"] == 230
    assert filled.content_type == "image/webp"
    assert opened(filled).convert("RGB").getpixel((1, 1))[0] > 200  # red where the background was

    task_id, _ = await run(ws, upstream, "removeBackground", image, model="runware:109@1", outputFormat="PNG",
                           rgba="#ffffff", rgbaAlpha="0", returnOnlyMask="on")
    _, [mask], _, _ = await outcome(task_id)
    picture = opened(mask).convert("L")
    assert picture.getpixel((1, 1)) == 0 and picture.getpixel((48, 32)) == 255
    await ws.disconnect()


async def test_a_canny_guide_can_be_sent_to_a_controlnet_row(user, image, upstream):
    ws = await tools_socket(user, image)
    task_id, frame = await run(ws, upstream, "controlNetPreprocess", image,
                               model="runware:controlnet-preprocess@canny", lowThresholdCanny="50",
                               highThresholdCanny="150")
    task, [guide], _, _ = await outcome(task_id)

    assert task.params["settings"] == {"lowThresholdCanny": 50, "highThresholdCanny": 150}
    assert guide.kind == Image.Kind.GUIDE and guide.source_id == image.pk
    assert (guide.width, guide.height) == (96, 64)
    assert f'href="/studio/?controlnet_guide={guide.pk}"' in frame and "Send to ControlNet" in frame
    await ws.disconnect()


async def test_openpose_asks_for_hands_and_face(user, image, upstream):
    ws = await tools_socket(user, image)
    task_id, _ = await run(ws, upstream, "controlNetPreprocess", image,
                           model="runware:controlnet-preprocess@openpose", lowThresholdCanny="100",
                           highThresholdCanny="200", includeHandsAndFaceOpenPose="on")
    task, [guide], _, _ = await outcome(task_id)
    assert task.model == "runware:controlnet-preprocess@openpose"
    assert task.params["settings"] == {"includeHandsAndFaceOpenPose": True}
    assert guide.kind == Image.Kind.GUIDE
    await ws.disconnect()


async def test_a_mask_can_be_used_for_inpainting_its_source(user, image, upstream):
    ws = await tools_socket(user, image)
    task_id, frame = await run(ws, upstream, "imageMasking", image, model="runware:35@4", confidence="0.2",
                               maxDetections="3", maskPadding="2", maskBlur="0")
    task, [mask], _, _ = await outcome(task_id)

    assert task.params["settings"] == {"confidence": 0.2, "maxDetections": 3, "maskPadding": 2, "maskBlur": 0}
    assert mask.kind == Image.Kind.MASK and mask.source_id == image.pk
    assert opened(mask).convert("L").getpixel((48, 32)) == 255  # the person-shaped subject is masked
    assert f'href="/studio/?seedImage={image.pk}&amp;maskImage={mask.pk}"' in frame
    await ws.disconnect()


VALID_MODELS = {
    "caption": "runware:150@2",
    "upscale": "runware:500@1",
    "removeBackground": "runware:109@1",
    "controlNetPreprocess": "runware:controlnet-preprocess@depth",
    "imageMasking": "runware:35@1",
}


async def test_no_tool_runs_on_another_members_image(user, other_image, upstream):
    ws = await tools_socket(user)
    for action, model in VALID_MODELS.items():
        await ws.send_json_to({"action": action, "image": str(other_image.pk), "model": model})
        frame = await receive_until(ws, 'role="alert"')
        assert "does not exist, or it is not yours" in frame
    assert await Task.objects.acount() == 0
    # The socket is still open and still works.
    await ws.send_json_to({"action": "caption", "image": str(other_image.pk), "model": "runware:150@2"})
    assert "not yours" in await receive_until(ws, 'role="alert"')
    await ws.disconnect()


async def test_a_page_for_another_members_image_is_sent_nothing(user, other_image, upstream):
    ws = await tools_socket(user)
    ws_other = await tools_socket(user)  # connecting with ?image= of someone else's image
    await ws.disconnect()
    await ws_other.disconnect()
    from channels.testing import WebsocketCommunicator

    from tests.tools.conftest import tools_app

    spy = WebsocketCommunicator(tools_app, f"/ws/tools/?image={other_image.pk}")
    spy.scope["user"] = user
    connected, _ = await spy.connect()
    assert connected
    assert await spy.receive_nothing(timeout=0.3)
    await spy.disconnect()


async def test_bad_input_is_answered_next_to_the_field_and_nothing_typed_is_lost(user, image, upstream):
    ws = await tools_socket(user, image)
    await ws.send_json_to({"action": "upscale", "image": str(image.pk), "model": "runware:504@1",
                           "upscaleFactor": "3", "outputFormat": "WEBP"})
    frame = await ws.receive_from(timeout=5)
    assert 'id="tool-form-upscale"' in frame
    assert "Real-ESRGAN upscales by 2× or 4× only" in frame
    assert '<option value="3" selected>' in frame and '<option value="WEBP" selected>' in frame

    await ws.send_json_to({"action": "controlNetPreprocess", "image": str(image.pk),
                           "model": "runware:controlnet-preprocess@canny", "lowThresholdCanny": "200",
                           "highThresholdCanny": "100"})
    frame = await ws.receive_from(timeout=5)
    assert "Must be lower than the high threshold." in frame and 'value="200"' in frame

    await ws.send_json_to({"action": "imageMasking", "image": str(image.pk), "model": "runware:35@1",
                           "confidence": "2", "maxDetections": "6", "maskPadding": "4", "maskBlur": "4"})
    frame = await ws.receive_from(timeout=5)
    assert "less than or equal to 1" in frame and 'value="2"' in frame

    await ws.send_json_to({"action": "caption", "model": "runware:150@2"})
    assert "Pick an image first." in await ws.receive_from(timeout=5)
    assert await Task.objects.acount() == 0
    await ws.disconnect()


async def test_an_upscale_larger_than_the_gallery_keeps_is_refused(user, image, upstream, settings):
    settings.UPLOAD_MAX_PIXELS = 50_000  # 96×64 by 3 is 55 296 pixels
    ws = await tools_socket(user, image)
    await ws.send_json_to({"action": "upscale", "image": str(image.pk), "model": "runware:500@1",
                           "upscaleFactor": "3", "outputFormat": "PNG"})
    frame = await ws.receive_from(timeout=5)
    assert "Upscaling this 96×64 image by 3 would make 55,296 pixels; the gallery keeps at most 50,000" in frame
    assert await Task.objects.acount() == 0
    await ws.disconnect()


async def test_a_tool_over_budget_is_refused_with_the_reason(user, image, upstream):
    user.monthly_budget = Decimal("0")
    await database_sync_to_async(user.save)(update_fields=["monthly_budget"])
    ws = await tools_socket(user, image)
    await ws.send_json_to({"action": "caption", "image": str(image.pk), "model": "runware:150@2"})
    frame = await ws.receive_from(timeout=5)
    assert "monthly budget" in frame and 'id="tool-form-caption"' in frame
    assert await Task.objects.acount() == 0
    await ws.disconnect()


async def test_a_failed_run_says_what_happened_and_what_to_try(user, image, upstream):
    ws = await tools_socket(user, image)
    await ws.send_json_to({"action": "caption", "image": str(image.pk), "model": "runware:150@2",
                           "prompt": "what is here [sim:fail=inferenceError]"})
    task_id = started_task_id(await receive_until(ws, "tool-run-"))
    await upstream.wait(task_id)
    frame = await receive_until(ws, "status-failed")
    assert "failed to produce a result" in frame and "try again" in frame
    task, _, texts, charges = await outcome(task_id)
    assert task.status == "failed" and texts == [] and charges == []
    await ws.disconnect()


async def test_a_reconnecting_page_is_sent_the_results_so_far(user, image, upstream):
    ws = await tools_socket(user, image)
    task_id, _ = await run(ws, upstream, "upscale", image, model="runware:504@1", upscaleFactor="2", outputFormat="JPG")
    await ws.disconnect()
    other = await make_other_image(user)

    again = await tools_socket_raw(user, image)
    frame = await again.receive_from(timeout=5)
    assert f'id="tool-run-{task_id}"' in frame and "Upscale" in frame
    await again.disconnect()

    # Another image's page does not list it.
    elsewhere = await tools_socket_raw(user, other)
    frame = await elsewhere.receive_from(timeout=5)
    assert f"tool-run-{task_id}" not in frame and "Nothing yet" in frame
    await elsewhere.disconnect()


make_other_image = database_sync_to_async(lambda user: make_image(user, width=64, height=64))


async def tools_socket_raw(user, image):
    from channels.testing import WebsocketCommunicator

    from tests.tools.conftest import tools_app

    ws = WebsocketCommunicator(tools_app, f"/ws/tools/?image={image.pk}")
    ws.scope["user"] = user
    connected, _ = await ws.connect()
    assert connected
    return ws


async def test_tool_runs_are_recorded_for_history(user, image, upstream):
    ws = await tools_socket(user, image)
    task_id, _ = await run(ws, upstream, "imageMasking", image, model="runware:35@1", confidence="0.25",
                           maxDetections="6", maskPadding="4", maskBlur="4")
    tool_run = await ToolRun.objects.select_related("task").aget(pk=task_id)
    assert tool_run.tool == "imageMasking" and tool_run.source_id == image.pk and tool_run.user_id == user.pk
    await ws.disconnect()
