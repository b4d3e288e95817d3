"""The video tools, as the SDK has them (`inputs.video`): caption, upscale and remove the background
of a video, from its card; each runs through the runner like a video, is charged per result, and
lands in the library (the videos linked to their source, the caption kept with the video)."""

from __future__ import annotations

import re

import av
import pytest
from channels.db import database_sync_to_async

from runware_web.media.models import Image
from runware_web.media.refs import image_ref
from runware_web.money.models import Charge
from runware_web.upstream.models import Task
from runware_web.video.models import VideoCaption
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
