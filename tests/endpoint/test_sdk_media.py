"""Audio and 3D through the endpoint, driven by the official runware-sdk 1.8.0 (and one clip by
`@runware/sdk-js` 1.3.2) pointed at the portal with a member's key: audioInference and 3dInference
(async delivery: an ACK, then getResponse polls) get their clip or model in Runware's shape with the
portal's URL, the Audio or 3D page's handler having stored it in the member's library, charged once.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from channels.db import database_sync_to_async
from django.urls import reverse
from runware import RunwareError

from runware_web.endpoint.models import ApiKey
from runware_web.media.models import Image
from runware_web.upstream.models import Task
from tests.endpoint.helpers import amember_with_key, sdk, stored_result
from tests.endpoint.test_sdk_js import sdk_js_entry  # noqa: F401 - the JavaScript SDK, installed once

SPEECH = "minimax:speech@2.8"
HUNYUAN_RAPID = "tencent:hunyuan-3d@3.1-rapid"


def speech_task(**extra: Any) -> dict[str, Any]:
    return {"taskType": "audioInference", "model": SPEECH,
            "speech": {"text": "The lighthouse keeper waves at the last ferry.", "voice": "English_CalmWoman"},
            **extra}


def model_task(**extra: Any) -> dict[str, Any]:
    return {"taskType": "3dInference", "model": HUNYUAN_RAPID, "positivePrompt": "a small clay teapot", **extra}


def is_mp3(data: bytes) -> bool:
    return data[:3] == b"ID3" or (len(data) > 1 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0)


def is_wav(data: bytes) -> bool:
    return data[:4] == b"RIFF" and data[8:12] == b"WAVE"


async def download(url: str) -> tuple[str, bytes]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 200
        return response.content_type, await response.read()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("transport", "output_format", "is_format"),
                         [("websocket", "MP3", is_mp3), ("rest", "WAV", is_wav)])
async def test_the_sdks_speech_is_polled_to_a_clip_stored_in_the_members_library(
    live_server_url, transport, output_format, is_format
):
    member, _, plaintext = await amember_with_key(key_name="voice script", task_types=["audioInference"])
    client = sdk(live_server_url, plaintext, transport=transport)
    await client.connect()
    try:
        clips = await client.run(speech_task(outputFormat=output_format))  # the SDK's default: async, polled
    finally:
        await client.close()

    assert len(clips) == 1
    clip = clips[0]
    assert clip["taskType"] == "audioInference"
    assert clip["audioURL"].startswith(live_server_url + "/v1/media/")
    assert clip["audioURL"].endswith("." + output_format.lower())
    stored = await stored_result(member, Image.MediaType.AUDIO, clip["audioUUID"], "voice script", "audio",
                                 "audioInference")
    assert stored.duration and stored.duration > 0
    content_type, data = await download(clip["audioURL"])
    assert is_format(data), data[:16]
    assert content_type == stored.content_type and len(data) == stored.size_bytes


@pytest.mark.django_db(transaction=True)
async def test_the_sdks_3d_inference_is_polled_to_a_glb_stored_in_the_members_library(live_server_url):
    member, _, plaintext = await amember_with_key(key_name="mesh script")
    client = sdk(live_server_url, plaintext)
    await client.connect()
    try:
        models = await client.run(model_task())
    finally:
        await client.close()

    assert len(models) == 1
    model = models[0]
    assert model["taskType"] == "3dInference"
    (file,) = model["outputs"]["files"]  # Runware's shape: no fields of its own, one GLB in outputs.files
    assert file["format"] == "GLB" and file["url"].startswith(live_server_url + "/v1/media/")
    stored = await stored_result(member, Image.MediaType.MODEL_3D, file["uuid"], "mesh script", "threed",
                                 "3dInference")
    content_type, data = await download(file["url"])
    assert data[:4] == b"glTF", data[:16]
    assert content_type == "model/gltf-binary" and len(data) == stored.size_bytes


@pytest.mark.django_db(transaction=True)
async def test_two_3d_models_of_one_task_come_back_as_two_results(live_server_url):
    member, _, plaintext = await amember_with_key()
    client = sdk(live_server_url, plaintext)
    await client.connect()
    try:
        models = await client.run(model_task(numberResults=2))
    finally:
        await client.close()

    urls = {model["outputs"]["files"][0]["url"] for model in models}
    assert len(models) == 2 and len(urls) == 2
    assert sorted(model["resultIndex"] for model in models) == [0, 1]
    assert await Image.objects.filter(user=member, media_type=Image.MediaType.MODEL_3D).acount() == 2
    for url in urls:
        assert (await download(url))[1][:4] == b"glTF"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("task", [speech_task(), model_task()], ids=["audio", "3d"])
async def test_audio_or_3d_over_the_members_budget_is_a_quota_error_and_nothing_runs(live_server_url, task):
    member, _, plaintext = await amember_with_key()
    await database_sync_to_async(type(member).objects.filter(pk=member.pk).update)(monthly_budget="0.0001")
    with pytest.raises(RunwareError) as refused:
        async with sdk(live_server_url, plaintext) as client:
            await client.run(dict(task))
    assert refused.value.code == "quota"
    assert "budget" in refused.value.message
    assert await database_sync_to_async(Task.objects.count)() == 0


@pytest.mark.django_db(transaction=True)
async def test_audio_with_sync_delivery_is_a_validation_error_naming_delivery_method(live_server_url):
    member, _, plaintext = await amember_with_key()
    with pytest.raises(RunwareError) as refused:
        async with sdk(live_server_url, plaintext) as client:
            await client.run(speech_task(deliveryMethod="sync"))
    assert refused.value.code == "validation" and refused.value.parameter == "deliveryMethod"
    assert not await database_sync_to_async(Task.objects.filter(user=member).exists)()


@pytest.mark.django_db
def test_the_keys_page_offers_audio_and_3d_and_a_key_keeps_them(alice_client, user):
    page = alice_client.get(reverse("endpoint:index")).content.decode()
    assert 'value="audioInference"' in page and 'value="3dInference"' in page
    response = alice_client.post(reverse("endpoint:create"), {
        "name": "media script", "budget_period": "month", "task_types": ["audioInference", "3dInference"]})
    assert response.status_code == 200
    assert ApiKey.objects.get(user=user).allowed_task_types == ["audioInference", "3dInference"]


JS_SPEECH = """
const { Runware } = await import(process.env.SDK_ENTRY);
const runware = new Runware({ apiKey: process.env.RUNWARE_KEY, url: process.env.RUNWARE_URL,
                              shouldReconnect: false, globalMaxRetries: 0, timeoutDuration: 30000 });
const out = {};
try {
  await runware.ensureConnection();
  out.clips = await runware.audioInference({
    model: "minimax:speech@2.8", deliveryMethod: "async",
    speech: { text: "The lighthouse keeper waves at the last ferry.", voice: "English_CalmWoman" } });
} catch (error) {
  out.error = error?.error ?? error?.message ?? error;
}
console.log(JSON.stringify(out));
await runware.disconnect();
process.exit(0);
"""


@pytest.mark.django_db(transaction=True)
async def test_the_javascript_sdks_speech_is_polled_to_a_clip_in_the_members_library(
    live_server_url, sdk_js_entry, tmp_path  # noqa: F811 - the fixture imported above
):
    member, _, plaintext = await amember_with_key(key_name="node voice")
    script = tmp_path / "speech.mjs"
    script.write_text(JS_SPEECH)
    env = {**os.environ, "SDK_ENTRY": Path(sdk_js_entry).as_uri(), "RUNWARE_KEY": plaintext,
           "RUNWARE_URL": live_server_url.replace("http://", "ws://") + "/v1"}
    process = await asyncio.create_subprocess_exec(
        "node", str(script), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=90)
    lines = [line for line in stdout.decode().splitlines() if line.startswith("{")]
    assert lines, f"node printed no result: {stdout.decode()[-1000:]} {stderr.decode()[-1000:]}"
    out = json.loads(lines[-1])

    assert "error" not in out, out["error"]
    (clip,) = out["clips"]
    assert clip["audioURL"].startswith(live_server_url + "/v1/media/")
    await stored_result(member, Image.MediaType.AUDIO, clip["audioUUID"], "node voice", "audio", "audioInference")
    _, data = await download(clip["audioURL"])
    assert is_mp3(data), data[:16]
