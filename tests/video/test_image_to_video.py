"""Image-to-video on the Video page: first and last frames from the gallery or an upload, only the
settings the chosen model takes, and a frame, duration or size it does not take refused next to its
field with nothing sent or billed."""

from __future__ import annotations

import io
import re
from decimal import Decimal

import av
import pytest
from channels.db import database_sync_to_async
from django.core.files.uploadedfile import SimpleUploadedFile

from runware_web.media.models import Image
from runware_web.media.refs import image_ref
from runware_web.media.store import save_image
from runware_web.money.models import Charge
from runware_web.upstream.models import Task
from tests.conftest import acreate_user, make_user
from tests.gallery.factories import png_bytes
from tests.video.test_consumer import connect, receive_until, request, stored, task_count

pytestmark = pytest.mark.django_db(transaction=True)

RED, BLUE = (220, 20, 20), (20, 20, 220)
LTX = "lightricks:ltx@2.3-fast"  # a first and a last frame, a frame rate, a seed
VEO_LITE = "google:veo@3.1-lite"  # a first frame only


@database_sync_to_async
def picture(user, colour: tuple[int, int, int], **fields) -> Image:
    return save_image(user=user, data=png_bytes(colour, size=(160, 90)), prompt="a frame", **fields)


def frame_colours(video: Image) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The mean colour of a stored video's first and last frames."""
    with video.file.open("rb") as handle, av.open(io.BytesIO(handle.read())) as container:
        frames = [
            frame.to_image().convert("RGB").resize((1, 1)).getpixel((0, 0))
            for frame in container.decode(video=0)
        ]
    return frames[0], frames[-1]


def upstream_jobs(simulator) -> int:
    """How many tasks the simulator has been sent (its job table; read only)."""
    return len(simulator.simulator.engine.jobs._jobs)


async def test_a_video_starts_on_its_first_frame_and_ends_on_its_last_with_the_models_own_settings(
    upstream, video_latency
):
    alice = await acreate_user("alice")
    first, last = await picture(alice, RED), await picture(alice, BLUE)
    ws = await connect(alice)
    await ws.send_json_to(
        request(
            model=LTX,
            positivePrompt="",
            firstFrame=first.pk,
            lastFrame=last.pk,
            duration=6,
            width=1280,
            height=720,
            fps=30,
            seed=7,
            negativePrompt="blur",
        )
    )
    card = await receive_until(ws, lambda f: 'id="vid-' in f)
    task_id = re.search(r'id="vid-([0-9a-f-]{36})"', card).group(1)
    assert "From a first and a last frame" in card
    await receive_until(ws, lambda f: f'id="vid-{task_id}"' in f and "Done" in f)
    await upstream.wait(task_id)

    task, [video], charges = await stored(task_id)
    assert task.status == Task.Status.DONE, task.error_message
    assert task.params["inputs"] == {
        "frameImages": [
            {"image": image_ref(first), "frame": "first"},
            {"image": image_ref(last), "frame": "last"},
        ]
    }
    assert (task.params["fps"], task.params["seed"]) == (30, 7)
    assert "negativePrompt" not in task.params  # LTX takes none: not sent
    assert "positivePrompt" not in task.params
    opening, ending = await database_sync_to_async(frame_colours)(video)
    assert opening[0] > 150 and opening[2] < 80  # red: it starts on the first frame sent
    assert ending[2] > 150 and ending[0] < 80  # blue: and ends on the last
    assert video.seed == 7 and video.cost == Decimal("0.12") == sum(c.amount for c in charges)  # 6 s × $0.02
    await ws.disconnect()


@pytest.mark.parametrize(
    "case", ["last-frame-on-a-first-frame-model", "a-video-as-frame", "someone-elses", "last-without-first"]
)
async def test_a_frame_image_the_model_does_not_take_is_refused_next_to_it_and_nothing_is_sent(
    upstream, simulator, case
):
    alice, bob = await acreate_user("alice"), await acreate_user("bob")
    mine, theirs = await picture(alice, RED), await picture(bob, BLUE)
    a_video = await picture(alice, BLUE)
    await database_sync_to_async(Image.objects.filter(pk=a_video.pk).update)(media_type=Image.MediaType.VIDEO)
    fields, box, message = {
        "last-frame-on-a-first-frame-model": (
            {
                "model": VEO_LITE,
                "duration": 4,
                "width": 1280,
                "height": 720,
                "firstFrame": mine.pk,
                "lastFrame": mine.pk,
            },
            "lastFrame",
            "Veo 3.1 Lite takes a first frame only, not a last frame",
        ),
        "a-video-as-frame": (
            {"firstFrame": a_video.pk},
            "firstFrame",
            "A first frame must be a picture, not a video.",
        ),
        "someone-elses": ({"firstFrame": theirs.pk}, "firstFrame", "That image is not in your gallery"),
        "last-without-first": ({"lastFrame": mine.pk}, "lastFrame", "pick a first frame"),
    }[case]
    jobs, charged = upstream_jobs(simulator), simulator.total_charged()
    ws = await connect(alice)
    await ws.send_json_to(request(**fields))
    answer = await ws.receive_from(timeout=10)
    assert re.search(rf'id="errors-{box}"[^>]*><span>[^<]*{re.escape(message)}', answer), answer
    assert re.search(r'id="errors-positivePrompt"[^>]*></div>', answer)  # the rest of the form is fine
    assert await task_count() == 0
    assert (
        upstream_jobs(simulator) == jobs and simulator.total_charged() == charged
    )  # nothing sent, nothing billed
    assert await database_sync_to_async(Charge.objects.count)() == 0
    await ws.disconnect()


async def test_a_frame_rate_outside_the_models_range_and_a_missing_prompt_are_refused(upstream):
    alice = await acreate_user("alice")
    ws = await connect(alice)
    await ws.send_json_to(request(model=LTX, duration=6, width=1280, height=720, fps=12, positivePrompt=""))
    answer = await ws.receive_from(timeout=10)
    assert re.search(
        r'id="errors-fps"[^>]*><span>LTX 2.3 Fast makes 24 to 50 frames per second, not 12', answer
    )
    assert re.search(r'id="errors-positivePrompt"[^>]*><span>Write a prompt, or pick a first frame', answer)
    assert await task_count() == 0
    await ws.disconnect()


# ------------------------------------------------------------------ the form, per model


def settings_page(client, **values) -> str:
    response = client.get(
        "/video/settings",
        {"positivePrompt": "a kite", **values},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TRIGGER_NAME="model",
    )
    assert response.status_code == 200
    return response.content.decode()


def shown(page: str, name: str) -> bool:
    tags = re.findall(rf'<(?:input|select|textarea)[^>]*name="{name}"[^>]*>', page)
    return any('type="hidden"' not in tag for tag in tags)


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("bytedance:seedance@2.0-fast", {"firstFrame", "lastFrame"}),
        (LTX, {"firstFrame", "lastFrame", "fps", "seed"}),
        ("klingai:kling-video@3-standard", {"firstFrame", "lastFrame", "negativePrompt"}),
        (VEO_LITE, {"firstFrame", "seed"}),
        ("alibaba:wan@2.6", {"firstFrame", "lastFrame", "seed", "negativePrompt"}),
    ],
)
def test_only_the_settings_the_chosen_model_takes_are_shown(client, model, expected):
    client.force_login(make_user("alice"))
    page = settings_page(client, model=model)
    optional = {"negativePrompt", "firstFrame", "lastFrame", "fps", "seed"}
    assert {name for name in optional if shown(page, name)} == expected
    for name in ("positivePrompt", "duration", "width", "height", "numberResults"):
        assert shown(page, name)


def test_switching_models_keeps_what_was_typed_and_fits_the_duration_and_size(client):
    client.force_login(make_user("alice"))
    page = settings_page(
        client,
        model="klingai:kling-video@3-standard",
        seed="99",
        negativePrompt="fog",
        duration="7",
        width="864",
        height="480",
        numberResults="2",
    )
    assert "a kite</textarea>" in page and "fog</textarea>" in page
    assert re.search(r'type="hidden" name="seed" value="99"', page)  # Kling takes no seed: kept, hidden
    assert re.search(r'name="duration" value="5"', page)  # 7 s is not a Kling length: its default
    assert re.search(r'name="width" value="1280"', page) and re.search(
        r'name="numberResults" value="2"', page
    )
    assert "Kling 3.0 Standard makes videos of 5 or 10 seconds at 1280×720" in page

    back = settings_page(
        client, model=LTX, seed="99", negativePrompt="fog", duration="6", width="1280", height="720"
    )
    assert re.search(r'<input type="number" name="seed" value="99"', back)  # shown again, as typed
    assert re.search(r'type="hidden" name="negativePrompt" value="fog"', back)


def test_a_frame_is_picked_from_the_gallery_with_its_preview(client):
    alice = make_user("alice")
    client.force_login(alice)
    image = save_image(user=alice, data=png_bytes(RED), prompt="a red door")
    page = settings_page(client, model=LTX, firstFrame=str(image.pk))
    assert re.search(rf'<option value="{image.pk}" selected>a red door \(48×32\)</option>', page)
    assert f'src="/gallery/{image.pk}/thumb"' in page


def test_an_uploaded_frame_goes_into_the_gallery_and_is_picked_and_a_bad_file_is_refused(client):
    alice = make_user("alice")
    client.force_login(alice)
    upload = SimpleUploadedFile("door.png", png_bytes(BLUE, size=(64, 64)), content_type="image/png")
    page = client.post(
        "/video/frame",
        {"model": LTX, "positivePrompt": "a blue door opens", "firstFrameUpload": upload},
        HTTP_HX_REQUEST="true",
    ).content.decode()
    image = Image.objects.get(user=alice)
    assert image.kind == Image.Kind.UPLOADED and image.original_name == "door.png"
    assert re.search(rf'<option value="{image.pk}" selected>door.png \(64×64\)</option>', page)
    assert "a blue door opens</textarea>" in page

    junk = SimpleUploadedFile("notes.png", b"not a picture at all", content_type="image/png")
    page = client.post(
        "/video/frame",
        {
            "model": LTX,
            "positivePrompt": "a blue door opens",
            "firstFrame": str(image.pk),
            "lastFrameUpload": junk,
        },
        HTTP_HX_REQUEST="true",
    ).content.decode()
    assert re.search(r'id="errors-lastFrameUpload"><span>[^<]+</span>', page)
    assert "a blue door opens</textarea>" in page  # nothing typed is lost
    assert re.search(rf'<option value="{image.pk}" selected>', page)  # nor the first frame picked
    assert Image.objects.filter(user=alice).count() == 1


def test_anothers_image_is_never_offered_as_a_frame(client):
    alice, bob = make_user("alice"), make_user("bob")
    theirs = save_image(user=bob, data=png_bytes(RED), prompt="bob's secret")
    client.force_login(alice)
    page = settings_page(client, model=LTX, firstFrame=str(theirs.pk))
    assert "bob&#x27;s secret" not in page and "bob's secret" not in page
    assert f"/gallery/{theirs.pk}/thumb" not in page
