"""Video, audio and 3D through the official SDK on both transports: the files really decode
(PyAV for MP4/WebM/MOV/MP3/OGG/FLAC, `wave` for WAV, the GLB container by hand), async tasks
report progress while they run, bad parameters get Runware-shaped errors, files serve byte
ranges, and the content catalogue's prices are what tasks are charged."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import struct
import time
import wave
from decimal import Decimal

import aiohttp
import av
import pytest
from PIL import Image, ImageStat
from runware import RunOptions, Runware, RunwareError
from runware.types.sdk import RuntimeDependencies

from runware_web.simulator import content, mediacatalog

from .helpers import TRANSPORTS, data_uri, solid

KLING = "klingai:kling-video@3-standard"


def video_task(prompt: str = "a red fox running through snow", **overrides):
    task = {
        "taskType": "videoInference",
        "model": KLING,
        "positivePrompt": prompt,
        "duration": 5,
        "width": 1280,
        "height": 720,
        "seed": 11,
        "deliveryMethod": "sync",  # run() would default to async, whose first poll waits a second
    }
    task.update(overrides)
    return task


def probe(data: bytes) -> dict:
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        frames = [rgba_image(frame) for frame in container.decode(stream)]
        return {
            "codec": stream.codec_context.name,
            "size": (stream.codec_context.width, stream.codec_context.height),
            "seconds": container.duration / av.time_base,
            "frames": frames,
            "format": container.format.name,
            "audio": [s.codec_context.name for s in container.streams.audio],
            "metadata": dict(stream.metadata),
            "pix_fmt": stream.codec_context.pix_fmt,
        }


def rgba_image(frame) -> Image.Image:
    """A decoded frame with its alpha channel (`VideoFrame.to_image` gives RGB only)."""
    rgba = frame.reformat(format="rgba")
    plane = rgba.planes[0]
    return Image.frombuffer("RGBA", (rgba.width, rgba.height), bytes(plane), "raw", "RGBA", plane.line_size, 1)


def mean(image) -> tuple[int, ...]:
    return tuple(round(v) for v in ImageStat.Stat(image.convert("RGB")).mean)


async def fetch_response(url: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers or {}) as response:
        return response.status, dict(response.headers), await response.read()


# ------------------------------------------------------------------------- video


@TRANSPORTS
async def test_a_video_is_an_h264_mp4_of_the_requested_length_and_aspect(connect, fetch, sim, transport):
    [item] = await connect(transport).run(video_task(duration=10, deliveryMethod="async"))
    assert item["taskType"] == "videoInference" and item["videoURL"].endswith(".mp4")
    status, headers, data = await fetch_response(item["videoURL"])
    assert status == 200 and headers["Content-Type"] == "video/mp4"
    clip = probe(data)
    assert clip["codec"] == "h264"
    assert clip["seconds"] == pytest.approx(10, abs=0.2)
    assert len(clip["frames"]) >= 10 * 8  # a real moving clip, not a still
    width, height = clip["size"]
    assert width / height == pytest.approx(1280 / 720, rel=0.02)
    assert mean(clip["frames"][0]) != mean(clip["frames"][-1])
    expected = mediacatalog.VIDEO_MODELS[KLING].price_per_second * 10
    assert Decimal(str(item["cost"])) == expected == sim.total_charged


@TRANSPORTS
async def test_video_polling_reports_progress_before_the_result(connect, transport):
    seen = []
    items = await connect(transport).run(
        video_task("a slow sunrise [sim:delay=1.6]", numberResults=2, deliveryMethod="async"),
        RunOptions(on_progress=seen.append),
    )
    assert len(items) == 2 and len({i["videoUUID"] for i in items}) == 2
    assert seen, "the first poll (after 1 s) should find the task still processing"
    for update in seen:
        assert update["status"] == "processing"
        assert 0 <= update["progress"] <= 99
        assert "videoURL" not in update and update["videoUUID"] in {i["videoUUID"] for i in items}


async def test_get_response_follows_an_async_video_from_processing_to_success(connect, sim):
    sim.media_latency_scale = 0.1  # Kling standard: 12 s nominal → 1.2 s
    client = connect()
    task_uuid = "5a1f3c1e-9a8e-4b55-8f7e-0d3b6c1a2b01"
    task = {**video_task(), "taskUUID": task_uuid, "deliveryMethod": "async"}
    async with aiohttp.ClientSession() as session:  # submit raw: run() would wait for the end
        headers = {"Authorization": "Bearer test-key"}
        async with session.post(sim.http_url, json=[task], headers=headers) as response:
            assert (await response.json())["data"] == [{"taskType": "videoInference", "taskUUID": task_uuid}]
    [first] = await client.get_response({"taskUUID": task_uuid})
    assert first["status"] == "processing" and isinstance(first["progress"], int)
    assert "videoURL" not in first
    deadline = time.monotonic() + 20
    while True:
        [final] = await client.get_response({"taskUUID": task_uuid})
        if final["status"] != "processing" or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    assert final["status"] == "success" and final["videoUUID"] == first["videoUUID"]
    assert final["videoURL"].endswith(".mp4")


async def test_equal_requests_give_equal_videos_and_seeds_change_them(connect, fetch):
    client = connect("rest")
    [a] = await client.run(video_task(duration=5, seed=3))
    [b] = await client.run(video_task(duration=5, seed=3))
    [c] = await client.run(video_task(duration=5, seed=4))
    data_a, data_b, data_c = await fetch(a["videoURL"]), await fetch(b["videoURL"]), await fetch(c["videoURL"])
    assert data_a == data_b
    assert mean(probe(data_a)["frames"][5]) != mean(probe(data_c)["frames"][5])


async def test_first_and_last_frame_images_open_and_close_the_clip(connect, fetch):
    inputs = {"frameImages": [
        {"image": data_uri(solid((220, 30, 30))), "frame": "first"},
        {"image": data_uri(solid((30, 30, 220))), "frame": "last"},
    ]}
    [item] = await connect().run(video_task(inputs=inputs, positivePrompt=None))
    frames = probe(await fetch(item["videoURL"]))["frames"]
    red, blue = mean(frames[0]), mean(frames[-1])
    assert red[0] > 150 and red[2] < 90, red
    assert blue[2] > 150 and blue[0] < 90, blue


@pytest.mark.parametrize(
    "model, fmt, codec, container",
    [("google:3@3", "MP4", "h264", "mp4"), (KLING, "WEBM", "vp9", "webm"), (KLING, "MOV", "h264", "mov")],
)
async def test_output_formats_and_native_sound(connect, fetch, model, fmt, codec, container):
    task = video_task(model=model, outputFormat=fmt, duration=4 if model.startswith("google") else 5)
    [item] = await connect().run(task)
    clip = probe(await fetch(item["videoURL"]))
    assert clip["codec"] == codec and container in clip["format"].split(",")
    has_audio = mediacatalog.video_spec(model).native_audio
    assert bool(clip["audio"]) == has_audio


@TRANSPORTS
@pytest.mark.parametrize(
    "overrides, parameter, words",
    [
        ({"duration": 7}, "duration", "5 or 10 seconds"),
        ({"width": 1000, "height": 1000}, "width", "1280x720"),
        ({"fps": 30}, "fps", "fixed frame rate"),
        ({"outputType": "base64Data"}, "outputType", "URL"),
        ({"positivePrompt": None}, "positivePrompt", "Missing"),
        ({"model": "runware:101@1"}, "model", "videoInference"),
        ({"model": "google:veo@3.1-lite", "duration": 8, "inputs": {"frameImages": [
            {"image": data_uri(solid((1, 2, 3))), "frame": "first"},
            {"image": data_uri(solid((3, 2, 1))), "frame": "last"}]}}, "inputs.frameImages", "one frame image"),
    ],
)
async def test_video_settings_a_model_does_not_take_are_refused_with_the_reason(
    connect, sim, transport, overrides, parameter, words
):
    with pytest.raises(RunwareError) as caught:
        await connect(transport).run(video_task(**overrides))
    assert (caught.value.code, caught.value.parameter) == ("validation", parameter)
    assert words in str(caught.value)
    assert sim.total_charged == 0


async def test_a_failing_video_is_not_charged(connect, sim):
    with pytest.raises(RunwareError) as caught:
        await connect().run(video_task("storm [sim:fail=providerError]"))
    assert caught.value.code == "provider" and sim.total_charged == 0


async def test_video_files_serve_byte_ranges_for_seeking(connect):
    [item] = await connect().run(video_task())
    url = item["videoURL"]
    status, headers, whole = await fetch_response(url)
    assert status == 200 and headers["Accept-Ranges"] == "bytes"
    status, headers, part = await fetch_response(url, {"Range": "bytes=100-199"})
    assert status == 206 and part == whole[100:200]
    assert headers["Content-Range"] == f"bytes 100-199/{len(whole)}"
    status, headers, tail = await fetch_response(url, {"Range": "bytes=-50"})
    assert status == 206 and tail == whole[-50:]
    status, headers, rest = await fetch_response(url, {"Range": f"bytes={len(whole) - 10}-"})
    assert status == 206 and rest == whole[-10:]
    status, headers, _ = await fetch_response(url, {"Range": f"bytes={len(whole)}-"})
    assert status == 416 and headers["Content-Range"] == f"bytes */{len(whole)}"


# ------------------------------------------------------------------ video tools


async def _source_video(client: Runware) -> dict:
    generic = "pixverse:1@8"  # any length and size, so the source clip is short and small
    [item] = await client.run(video_task(duration=2, width=256, height=256, fps=8, model=generic))
    return item


@TRANSPORTS
async def test_a_video_is_captioned_from_its_frames(connect, transport):
    client = connect(transport)
    source = await _source_video(client)
    [item] = await client.run({"taskType": "caption", "deliveryMethod": "sync", "model": "runware:152@1", "inputs": {"video": source["videoUUID"]}})
    assert item["text"].startswith("A 2.0-second") and "video" in item["text"]
    assert item["cost"] > 0


@TRANSPORTS
async def test_a_video_is_upscaled_by_the_factor(connect, fetch, transport):
    client = connect(transport)
    source = await _source_video(client)
    before = probe(await fetch(source["videoURL"]))
    [item] = await client.run(
        {"taskType": "upscale", "deliveryMethod": "sync", "model": "bria:50@1", "upscaleFactor": 2, "inputs": {"video": source["videoURL"]}}
    )
    after = probe(await fetch(item["videoURL"]))
    assert after["size"] == (before["size"][0] * 2, before["size"][1] * 2)
    assert len(after["frames"]) == len(before["frames"])


@pytest.mark.parametrize("fmt, pix_fmt", [("WEBM", None), ("MOV", "argb")])
async def test_a_video_background_is_removed_with_transparency(connect, fetch, fmt, pix_fmt):
    client = connect()
    source = await _source_video(client)
    [item] = await client.run(
        {"taskType": "removeBackground", "deliveryMethod": "sync", "model": "bria:51@1", "outputFormat": fmt, "inputs": {"video": source["videoUUID"]}}
    )
    clip = probe(await fetch(item["videoURL"]))
    if fmt == "WEBM":  # VP9 keeps alpha in a side channel that the container flags
        assert clip["codec"] == "vp9" and clip["metadata"].get("alpha_mode") == "1"
    else:
        assert clip["pix_fmt"] == pix_fmt
        assert any(px < 255 for px in clip["frames"][0].convert("RGBA").getchannel("A").getextrema())


async def test_an_uploaded_video_can_be_an_input(connect, fetch):
    client = connect()
    source = await _source_video(client)
    encoded = base64.b64encode(await fetch(source["videoURL"])).decode()
    [stored] = await client.media_storage({"operation": "upload", "media": f"data:video/mp4;base64,{encoded}"})
    assert stored["mediaURL"].endswith(".mp4")
    [item] = await client.run({"taskType": "caption", "deliveryMethod": "sync", "model": "runware:152@2", "inputs": {"video": stored["mediaUUID"]}})
    assert "2.0-second" in item["text"]


@pytest.mark.parametrize(
    "task, parameter",
    [
        ({"taskType": "caption", "model": "runware:150@2"}, "inputs.video"),
        ({"taskType": "upscale", "model": "runware:504@1"}, "inputs.video"),
        ({"taskType": "removeBackground", "model": "runware:109@1"}, "inputs.video"),
        ({"taskType": "upscale", "model": "bria:50@1", "upscaleFactor": 9}, "upscaleFactor"),
    ],
)
async def test_video_tools_refuse_models_and_settings_that_do_not_fit(connect, task, parameter):
    client = connect()
    source = await _source_video(client)
    with pytest.raises(RunwareError) as caught:
        await client.run({**task, "deliveryMethod": "sync", "inputs": {"video": source["videoUUID"]}})
    assert (caught.value.code, caught.value.parameter) == ("validation", parameter)


async def test_an_unreadable_video_input_is_refused(connect):
    with pytest.raises(RunwareError) as caught:
        await connect().run(
            {"taskType": "upscale", "deliveryMethod": "sync", "model": "bria:50@1", "inputs": {"video": base64.b64encode(b"not a video").decode()}}
        )
    assert (caught.value.code, caught.value.parameter) == ("validation", "inputs.video")


# ------------------------------------------------------------------------- audio


def speech_task(text: str = "Hello there. This is the simulator speaking.", **overrides):
    task = {
        "taskType": "audioInference",
        "model": "minimax:speech@2.8",
        "speech": {"text": text, "voice": "English_CalmWoman"},
        "outputFormat": "WAV",
        "deliveryMethod": "sync",
    }
    task.update(overrides)
    return task


@TRANSPORTS
async def test_speech_is_a_wav_whose_length_follows_the_text(connect, fetch, transport):
    client = connect(transport)
    [short] = await client.run(speech_task("Hi."))
    [long] = await client.run(speech_task("Hi. " * 3 + "This sentence has quite a few more words in it."))
    lengths = []
    for item in (short, long):
        assert item["audioURL"].endswith(".wav")
        with wave.open(io.BytesIO(await fetch(item["audioURL"]))) as reader:
            assert (reader.getnchannels(), reader.getsampwidth()) == (1, 2)
            lengths.append(reader.getnframes() / reader.getframerate())
    assert 0 < lengths[0] < lengths[1]
    assert Decimal(str(long["cost"])) > Decimal(str(short["cost"]))


@pytest.mark.parametrize("fmt, codec", [("MP3", "mp3"), ("OGG", "vorbis"), ("FLAC", "flac")])
async def test_music_is_encoded_at_the_requested_duration(connect, fetch, fmt, codec):
    [item] = await connect().run(
        {"taskType": "audioInference", "deliveryMethod": "sync", "model": "minimax:music@2.6", "positivePrompt": "calm piano",
         "duration": 6, "outputFormat": fmt, "audioSettings": {"sampleRate": 44100}}
    )
    with av.open(io.BytesIO(await fetch(item["audioURL"]))) as container:
        stream = container.streams.audio[0]
        assert stream.codec_context.name.startswith(codec) and stream.sample_rate == 44100
        assert sum(frame.samples for frame in container.decode(stream)) / 44100 == pytest.approx(6, abs=0.1)
    assert Decimal(str(item["cost"])) == mediacatalog.AUDIO_MODELS["minimax:music@2.6"].price * 6


async def test_audio_can_come_back_inline(connect):
    [item] = await connect().run(speech_task(outputType="base64Data", model="elevenlabs:25@1",
                                             speech={"text": "Inline.", "voice": "Rachel"}))
    assert "audioURL" not in item
    with wave.open(io.BytesIO(base64.b64decode(item["audioBase64Data"]))) as reader:
        assert reader.getnframes() > 0


async def test_a_designed_voice_is_described_instead_of_chosen(connect):
    [item] = await connect().run(speech_task(model="alibaba:qwen@3-tts-1.7b-voicedesign",
                                             speech={"text": "Hello.", "voice": "a warm, low narrator"}))
    assert item["audioUUID"]


@TRANSPORTS
@pytest.mark.parametrize(
    "overrides, parameter",
    [
        ({"speech": {"text": "Hi", "voice": "Nobody"}}, "speech.voice"),
        ({"speech": {"text": "Hi"}}, "speech.voice"),
        ({"speech": None}, "speech.text"),
        ({"outputFormat": "AAC"}, "outputFormat"),
        ({"audioSettings": {"sampleRate": 12345}}, "audioSettings.sampleRate"),
        ({"model": "minimax:music@2.6", "positivePrompt": "jazz", "duration": 1, "speech": None}, "duration"),
        ({"model": "minimax:music@2.6", "positivePrompt": "jazz"}, "speech"),  # speech_task sends speech
    ],
)
async def test_audio_settings_a_model_does_not_take_are_refused(connect, transport, overrides, parameter):
    with pytest.raises(RunwareError) as caught:
        await connect(transport).run(speech_task(**overrides))
    assert (caught.value.code, caught.value.parameter) == ("validation", parameter)


# ---------------------------------------------------------------------------- 3D


def read_glb(data: bytes) -> tuple[dict, bytes]:
    magic, version, length = struct.unpack_from("<4sII", data)
    assert (magic, version, length) == (b"glTF", 2, len(data))
    json_length, json_type = struct.unpack_from("<I4s", data, 12)
    assert json_type == b"JSON" and json_length % 4 == 0
    document = json.loads(data[20 : 20 + json_length])
    bin_length, bin_type = struct.unpack_from("<I4s", data, 20 + json_length)
    assert bin_type == b"BIN\0"
    binary = data[28 + json_length : 28 + json_length + bin_length]
    assert len(binary) == bin_length >= document["buffers"][0]["byteLength"]
    return document, binary


@TRANSPORTS
async def test_a_prompt_becomes_a_valid_glb(connect, fetch, transport):
    items = await connect(transport).run(
        {"taskType": "3dInference", "deliveryMethod": "sync", "model": "tencent:hunyuan-3d@3.1-rapid", "positivePrompt": "a teapot",
         "numberResults": 2, "seed": 5}
    )
    assert [i["resultIndex"] for i in items] == [0, 1] and [i["seed"] for i in items] == [5, 6]
    for item in items:
        [file] = item["outputs"]["files"]
        assert file["url"].endswith(".glb") and file["format"] == "GLB"
        status, headers, data = await fetch_response(file["url"])
        assert headers["Content-Type"] == "model/gltf-binary"
        document, binary = read_glb(data)
        assert document["asset"]["version"] == "2.0"
        primitive = document["meshes"][0]["primitives"][0]
        positions = document["accessors"][primitive["attributes"]["POSITION"]]
        indices = document["accessors"][primitive["indices"]]
        assert positions["count"] > 3 and indices["count"] % 3 == 0
        view = document["bufferViews"][indices["bufferView"]]
        assert max(struct.unpack_from(f"<{indices['count']}I", binary, view["byteOffset"])) < positions["count"]


async def test_an_image_becomes_a_relief_coloured_by_it(connect, fetch):
    [item] = await connect().run(
        {"taskType": "3dInference", "deliveryMethod": "sync", "model": "microsoft:trellis-2@4b", "inputs": {"image": data_uri(solid((10, 200, 10)))}}
    )
    document, binary = read_glb(await fetch(item["outputs"]["files"][0]["url"]))
    primitive = document["meshes"][0]["primitives"][0]
    colours = document["accessors"][primitive["attributes"]["COLOR_0"]]
    offset = document["bufferViews"][colours["bufferView"]]["byteOffset"]
    r, g, b = struct.unpack_from("<3f", binary, offset)
    assert g > 0.7 and r < 0.1 and b < 0.1
    assert Decimal(str(item["cost"])) == mediacatalog.THREE_D_MODELS["microsoft:trellis-2@4b"].price


@pytest.mark.parametrize(
    "task, parameter",
    [
        ({"model": "microsoft:trellis-2@4b", "positivePrompt": "a chair"}, "inputs.image"),
        ({"model": "meta:sam@3d", "inputs": {"image": data_uri(solid((9, 9, 9)))}}, "inputs.mask"),
        ({"model": "tripo:v3.1@0", "positivePrompt": "a cup", "outputFormat": "FBX"}, "outputFormat"),
        ({"model": "tripo:v3.1@0"}, "positivePrompt"),
    ],
)
async def test_3d_inputs_a_model_does_not_take_are_refused(connect, task, parameter):
    with pytest.raises(RunwareError) as caught:
        await connect("rest").run({"taskType": "3dInference", "deliveryMethod": "sync", **task})
    assert (caught.value.code, caught.value.parameter) == ("validation", parameter)


# ------------------------------------------------------------------- the catalogue


@pytest.fixture
async def content_client(sim):
    session = content.sdk_session(sim.base_url)
    client = Runware(
        api_key="test-key", ws_base_url=sim.ws_url, http_base_url=sim.http_url, transport="rest",
        dependencies=RuntimeDependencies(session=session),
    )
    yield client
    await client.close()
    await session.close()


async def test_the_sdk_lists_models_by_kind_from_the_simulated_catalogue(content_client):
    videos = await content_client.content.list_models({"category": "video"})
    airs = {m["air"] for m in videos}
    assert KLING in airs and "runware:101@1" not in airs
    speech = await content_client.content.list_models({"capability": "text-to-speech"})
    assert "minimax:speech@2.8" in {m["air"] for m in speech}
    page = await content_client.content.list_models({"category": "3d", "paginate": True, "limit": 2})
    assert page["total"] >= 7 and len(page["items"]) == 2 and page["limit"] == 2
    assert await content_client.content.get_model("no-such-model") is None


@pytest.mark.parametrize("duration", [5, 10])
async def test_catalogue_prices_are_what_a_task_is_charged(connect, content_client, duration):
    pricing = await content_client.content.get_model_pricing("klingai-video-3-0-standard")
    assert pricing["air"] == KLING and pricing["category"] == ["video"]
    quoted = {e["configuration"]: Decimal(e["price"].lstrip("$")) for e in pricing["pricingExamples"]}
    [item] = await connect().run(video_task(duration=duration))
    assert Decimal(str(item["cost"])) == quoted[f"{duration}s · 1280x720"]


async def test_every_runnable_media_model_has_pricing(content_client):
    for air in ("minimax:music@2.6", "tencent:hunyuan-3d@3.1-pro", "bria:51@1", "runware:101@1"):
        pricing = await content_client.content.get_model_pricing(air)
        assert pricing and pricing["pricingExamples"][0]["price"].startswith("$"), air
