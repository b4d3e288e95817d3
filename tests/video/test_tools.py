"""The video tools, as the SDK has them (`inputs.video`): caption, upscale and remove the background
of a video, from its card; each runs through the runner like a video, is charged per result, and
lands in the library (the videos linked to their source, the caption kept with the video)."""

from __future__ import annotations

import re
import socket
from decimal import ROUND_UP, Decimal

import av
import pytest
from channels.db import database_sync_to_async
from django.core.cache import cache

from runware_web.media.models import Image
from runware_web.media.refs import image_ref
from runware_web.money import prices
from runware_web.money.models import Charge
from runware_web.simulator import mediacatalog
from runware_web.upstream import content
from runware_web.upstream.models import Task
from runware_web.video.models import VideoCaption
from runware_web.video.services import TOOLS
from tests.conftest import acreate_user
from tests.video.test_consumer import connect, receive_until, request, stored, task_count

pytestmark = pytest.mark.django_db(transaction=True)


async def make_video(ws, upstream) -> Image:
    await ws.send_json_to(request())
    card = await receive_until(ws, lambda f: 'id="vid-' in f)
    task_id = re.search(r'id="vid-([0-9a-f-]{36})"', card).group(1)
    done = await receive_until(ws, lambda f: f'id="vid-{task_id}"' in f and "Done" in f)
    await upstream.wait(task_id)
    _, [video], _ = await stored(task_id)
    for tool in ("Caption", "Upscale 2×", "Remove background"):  # offered on the video's card
        assert f">{tool}</button>" in done
    return video


async def run(ws, upstream, tool: str, video: Image) -> tuple[Task, list[Image], list[Charge], str]:
    await ws.send_json_to({"action": "tool", "tool": tool, "video": str(video.pk)})
    card = await receive_until(
        ws,
        lambda f: (
            'id="vid-' in f and f'"video": "{video.pk}"' not in f.split("<figure")[0] and "Generating…" in f
        ),
    )
    task_id = re.search(r'id="vid-([0-9a-f-]{36})"', card).group(1)
    done = await receive_until(ws, lambda f: f'id="vid-{task_id}"' in f and "Done" in f)
    await upstream.wait(task_id)
    task, results, charges = await stored(task_id)
    return task, results, charges, done


def opened(video: Image) -> tuple[str, int, int]:
    with video.file.open("rb") as handle, av.open(handle) as container:
        stream = container.streams.video[0]
        return stream.codec_context.name, stream.codec_context.width, stream.codec_context.height


async def test_a_video_is_captioned_upscaled_and_cut_out_each_charged_and_kept_in_the_library(upstream):
    alice = await acreate_user("alice")
    ws = await connect(alice)
    video = await make_video(ws, upstream)

    task, results, charges, done = await run(ws, upstream, "caption", video)
    assert task.status == Task.Status.DONE and task.task_type == "caption" and task.delivery == "async"
    assert task.params["inputs"] == {"video": image_ref(video)}
    caption = await database_sync_to_async(VideoCaption.objects.get)(task=task)
    assert caption.video_id == video.pk and "second" in caption.text
    assert results == [] and len(charges) == 1 and task.cost == charges[0].amount > 0
    assert "Caption of" in done and "Caption written" in done and caption.text[:40] in done

    task, [bigger], charges, done = await run(ws, upstream, "upscale", video)
    assert task.params["upscaleFactor"] == 2 and task.params["inputs"] == {"video": image_ref(video)}
    assert (bigger.kind, bigger.source_id, bigger.media_type) == (
        Image.Kind.UPSCALED,
        video.pk,
        Image.MediaType.VIDEO,
    )
    codec, width, height = await database_sync_to_async(opened)(bigger)
    assert codec == "h264" and (width, height) == (video.width * 2, video.height * 2)
    assert bigger.cost == charges[0].amount == task.cost and "<video controls" in done

    task, [cut_out], charges, _ = await run(ws, upstream, "removeBackground", video)
    assert (cut_out.kind, cut_out.source_id, cut_out.content_type) == (
        Image.Kind.BACKGROUND_REMOVED,
        video.pk,
        "video/webm",
    )
    codec, _, _ = await database_sync_to_async(opened)(cut_out)
    assert codec in ("vp9", "libvpx-vp9") and cut_out.thumbnail
    assert cut_out.cost == charges[0].amount == task.cost
    await ws.disconnect()


async def test_a_tool_refuses_a_picture_and_anothers_video_and_sends_nothing(upstream):
    alice, bob = await acreate_user("alice"), await acreate_user("bob")
    bobs_ws = await connect(bob)
    bobs_video = await make_video(bobs_ws, upstream)
    await bobs_ws.disconnect()
    tasks_before = await task_count()

    ws = await connect(alice)
    await ws.send_json_to({"action": "tool", "tool": "upscale", "video": str(bobs_video.pk)})
    assert "There is no such video of yours." in await ws.receive_from(timeout=10)

    picture = await database_sync_to_async(Image.objects.filter(pk=bobs_video.pk).update)(user=alice)
    assert picture == 1
    await database_sync_to_async(Image.objects.filter(pk=bobs_video.pk).update)(
        media_type=Image.MediaType.IMAGE
    )
    await ws.send_json_to({"action": "tool", "tool": "caption", "video": str(bobs_video.pk)})
    assert "Caption works on videos; this is a picture" in await ws.receive_from(timeout=10)
    assert await task_count() == tasks_before
    await ws.disconnect()


def per_second(task_type: str) -> Decimal:
    """What the simulator's catalogue says one second of input video costs with the tool's model."""
    model = TOOLS[task_type].model
    specs = {"caption": mediacatalog.VIDEO_CAPTION_MODELS, "upscale": mediacatalog.VIDEO_UPSCALE_MODELS,
             "removeBackground": mediacatalog.VIDEO_BACKGROUND_MODELS}[task_type]
    return specs[model].price_per_second


def catalogue_estimate(task_type: str, video: Image) -> Decimal:
    """The catalogue's price per second × the video's length to 0.01 s, both rounded up (the safe side)."""
    seconds = Decimal(str(video.duration)).quantize(Decimal("0.01"), rounding=ROUND_UP)
    return (per_second(task_type) * seconds).quantize(Decimal("0.00000001"), rounding=ROUND_UP)


def table_estimate(task_type: str, video: Image) -> Decimal:
    """What the built-in table would say (it prices a tool by the picture it assumes)."""
    return prices.table_price(task_type, {"model": TOOLS[task_type].model, "inputs": {"video": image_ref(video)}})


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_each_tool_reserves_the_catalogue_price_per_second_of_its_video_and_is_charged_about_that(
    upstream,
):
    await database_sync_to_async(cache.clear)()  # no price remembered from another test
    alice = await acreate_user("alice")
    ws = await connect(alice)
    video = await make_video(ws, upstream)
    assert video.duration == pytest.approx(4, abs=0.2)

    for task_type in ("caption", "upscale", "removeBackground"):
        task, _, charges, _ = await run(ws, upstream, task_type, video)
        expected = catalogue_estimate(task_type, video)
        assert task.estimated_cost == expected, task_type
        assert expected != table_estimate(task_type, video)  # not the table's
        # What Runware charged (its own reading of the length, to 0.01 s) is what was reserved, give or take
        # a hundredth of a second.
        assert task.cost == sum(charge.amount for charge in charges) > 0
        assert abs(task.cost - expected) <= per_second(task_type) * Decimal("0.02"), task_type
    await ws.disconnect()


async def test_a_tool_reserves_the_last_known_catalogue_price_while_the_catalogue_cannot_be_reached(
    upstream, settings
):
    await database_sync_to_async(cache.clear)()
    alice = await acreate_user("alice")
    ws = await connect(alice)
    video = await make_video(ws, upstream)
    task, _, _, _ = await run(ws, upstream, "upscale", video)  # the catalogue said its price
    expected = catalogue_estimate("upscale", video)
    assert task.estimated_cost == expected

    # The hour is over, and the catalogue does not answer: the last price it gave still stands.
    await database_sync_to_async(cache.delete)(content._fresh_key(TOOLS["upscale"].model))
    settings.RUNWARE_CONTENT_URL = f"http://127.0.0.1:{closed_port()}"
    task, [bigger], charges, _ = await run(ws, upstream, "upscale", video)
    assert task.estimated_cost == expected != table_estimate("upscale", video)
    assert bigger.cost == charges[0].amount == task.cost > 0
    params = {"model": TOOLS["upscale"].model, "inputs": {"video": image_ref(video)}}
    shown = await prices.aquote("upscale", params, 1, input_seconds=video.duration)
    assert (shown.amount, shown.basis) == (expected, "last-known")
    assert "Runware's catalogue could not be reached" in shown.source
    await ws.disconnect()


def test_a_tool_on_a_video_with_no_catalogue_price_ever_seen_is_estimated_at_the_dear_end_per_second():
    """Not priced as a picture: a 4 s video's upscale would otherwise reserve a thousandth of its cost."""
    from decimal import Decimal

    from runware_web.money.prices import UNKNOWN_VIDEO_MODEL, quote

    params = {"model": "runware:upscaler@video", "inputs": {"video": "portal-image:0d3c"}}
    estimate = quote("upscale", params, 1, input_seconds=4.0)
    assert estimate.basis == "table"
    assert estimate.amount == UNKNOWN_VIDEO_MODEL.per_second * 4 == Decimal("1.6")
