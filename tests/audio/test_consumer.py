"""The Audio page's socket against the simulator: a clip's whole life, and bad input refused."""

from __future__ import annotations

import re
import wave
from decimal import Decimal
from html import escape
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from runware_web.audio.routing import websocket_urlpatterns
from runware_web.media.models import Image
from runware_web.money.models import Charge
from runware_web.upstream.models import Task
from tests.conftest import acreate_user
from tests.life import receive_until

pytestmark = pytest.mark.django_db(transaction=True)

TEXT = "The tide is out and the gulls are loud this morning."  # 52 characters
audio_app = URLRouter(websocket_urlpatterns)


def request(**fields: Any) -> dict[str, Any]:
    data = {
        "action": "generate",
        "model": "elevenlabs:25@1",
        "text": TEXT,
        "voice": "Rachel",
        "voiceDescription": "",
        "positivePrompt": "",
        "duration": "",
        "outputFormat": "MP3",
        "seed": "",
        "numberResults": "1",
        "HEADERS": {"HX-Request": "true"},
    }
    data.update({name: str(value) for name, value in fields.items()})
    return data


async def connect(user) -> WebsocketCommunicator:
    ws = WebsocketCommunicator(audio_app, "/ws/audio/")
    ws.scope["user"] = user
    connected, _ = await ws.connect()
    assert connected
    await ws.receive_from(timeout=10)  # the recent clips
    return ws


async def started(ws: WebsocketCommunicator) -> str:
    card = await receive_until(ws, lambda f: 'id="aud-' in f)
    return re.search(r'id="aud-([0-9a-f-]{36})"', card).group(1)


@database_sync_to_async
def stored(task_id: str) -> tuple[Task, list[Image], list[Charge]]:
    task = Task.objects.get(pk=task_id)
    return task, list(task.images.all()), list(Charge.objects.filter(task=task))


@database_sync_to_async
def task_count() -> int:
    return Task.objects.count()


async def test_speech_in_a_chosen_voice_is_stored_as_audio_with_its_waveform_and_charged(
    upstream, media_latency
):
    alice = await acreate_user("alice")
    ws = await connect(alice)
    await ws.send_json_to(request(seed=7, outputFormat="WAV"))
    task_id = await started(ws)

    done = await receive_until(ws, lambda f: f'id="aud-{task_id}"' in f and "Done" in f)
    assert "<audio controls" in done and "Download" in done
    await upstream.wait(task_id)

    task, clips, charges = await stored(task_id)
    assert task.status == Task.Status.DONE and task.delivery == "async"
    assert task.params["speech"] == {"text": TEXT, "voice": "Rachel"}
    [clip] = clips
    assert clip.media_type == Image.MediaType.AUDIO and clip.content_type == "audio/wav"
    assert clip.kind == Image.Kind.GENERATED and clip.prompt == TEXT and clip.seed == 7
    with clip.file.open("rb") as handle, wave.open(handle) as reader:
        seconds = reader.getnframes() / reader.getframerate()
    assert clip.duration == pytest.approx(seconds, abs=0.05) and seconds > 2  # one tone burst per word
    assert clip.thumbnail and clip.thumbnail.size > 0  # the waveform
    # ElevenLabs Turbo: $0.05 per 1000 characters × 52 characters; the ledger holds what Runware charged.
    assert clip.cost == Decimal("0.0026") == sum(charge.amount for charge in charges) == task.cost
    assert f"/gallery/{clip.pk}/file" in done and f"/gallery/{clip.pk}/download" in done
    await ws.disconnect()


async def test_music_from_a_prompt_lasts_as_long_as_asked_and_costs_by_the_second(upstream):
    alice = await acreate_user("alice")
    ws = await connect(alice)
    await ws.send_json_to(
        request(
            model="runware:ace-step@v1.5-turbo",
            text="",
            positivePrompt="a calm harp",
            duration=6,
            numberResults=2,
        )
    )
    task_id = await started(ws)
    await receive_until(ws, lambda f: f'id="aud-{task_id}"' in f and "Done" in f)
    await upstream.wait(task_id)
    task, clips, charges = await stored(task_id)
    assert len(clips) == 2 and {clip.content_type for clip in clips} == {"audio/mpeg"}
    assert all(clip.duration == pytest.approx(6, abs=0.15) for clip in clips)
    assert task.params["positivePrompt"] == "a calm harp" and "speech" not in task.params
    # ACE-Step: $0.0002 a second × 6 seconds, for each of two clips.
    assert task.cost == Decimal("0.0024") == sum(charge.amount for charge in charges)
    await ws.disconnect()


async def test_a_voice_the_model_does_not_have_or_a_length_it_does_not_make_is_refused_and_nothing_is_sent(
    upstream,
):
    alice = await acreate_user("alice")
    ws = await connect(alice)
    await ws.send_json_to(request(model="xai:tts@0", voice="Rachel"))
    answer = await ws.receive_from(timeout=10)
    assert re.search(r'id="errors-voice"[^>]*><span>xAI TTS speaks as Ara, Rex, Sal, Eve: choose one', answer)
    assert re.search(r'id="errors-text"[^>]*></div>', answer)  # a valid field's box is emptied

    await ws.send_json_to(request(model="mirelo:1@1", text="", positivePrompt="a door slams", duration=45))
    answer = await ws.receive_from(timeout=10)
    assert re.search(r'id="errors-duration"[^>]*><span>Mirelo SFX makes 1 to 30 seconds, not 45', answer)

    await ws.send_json_to(request(model="alibaba:qwen@3-tts-1.7b-voicedesign", voiceDescription=""))
    answer = await ws.receive_from(timeout=10)
    assert re.search(
        r'id="errors-voiceDescription"[^>]*><span>Qwen3 TTS Voice Design designs its voice', answer
    )
    assert await task_count() == 0
    await ws.disconnect()


async def test_a_designed_voice_is_sent_as_the_description(upstream):
    alice = await acreate_user("alice")
    ws = await connect(alice)
    await ws.send_json_to(
        request(
            model="alibaba:qwen@3-tts-1.7b-voicedesign",
            voice="",
            voiceDescription="an old sailor, slow and warm",
        )
    )
    task_id = await started(ws)
    await upstream.wait(task_id)
    task, clips, _ = await stored(task_id)
    assert task.status == Task.Status.DONE, task.error_message
    assert task.params["speech"]["voice"] == "an old sailor, slow and warm" and len(clips) == 1
    await ws.disconnect()


async def test_a_cancelled_clip_still_arrives_and_is_saved_and_charged_as_runware_bills_it(
    upstream, media_latency
):
    alice = await acreate_user("alice")
    ws = await connect(alice)
    await ws.send_json_to(request())
    task_id = await started(ws)

    await ws.send_json_to({"action": "cancel", "task": task_id})
    cancelled = await receive_until(ws, lambda f: f'id="aud-{task_id}"' in f and "Cancelled" in f)
    assert "Runware still bills what it has started" in cancelled
    await upstream.wait(task_id)

    task, clips, charges = await stored(task_id)
    assert task.status == Task.Status.CANCELLED
    assert len(clips) == 1 and clips[0].file.size > 0
    assert clips[0].cost == Decimal("0.0026") == sum(charge.amount for charge in charges)
    await ws.disconnect()


async def test_a_failed_clip_says_why_on_its_card_and_nothing_is_charged(upstream, media_latency):
    alice = await acreate_user("alice")
    ws = await connect(alice)
    await ws.send_json_to(request(text="Read this [sim:fail=inferenceError]"))
    task_id = await started(ws)

    failed = await receive_until(ws, lambda f: f'id="aud-{task_id}"' in f and "This clip failed" in f)
    await upstream.wait(task_id)
    task, clips, charges = await stored(task_id)
    assert task.status == Task.Status.FAILED and task.error_message
    assert escape(task.error_message) in failed
    assert clips == [] and charges == []
    await ws.disconnect()


async def test_every_tab_of_the_member_follows_a_clip_and_another_member_cannot_cancel_it(
    upstream, media_latency
):
    alice, bob = await acreate_user("alice"), await acreate_user("bob")
    ws, other_tab = await connect(alice), await connect(alice)
    await ws.send_json_to(request())
    task_id = await started(ws)
    await receive_until(other_tab, lambda f: f'id="aud-{task_id}"' in f)

    intruder = await connect(bob)
    await intruder.send_json_to({"action": "cancel", "task": task_id})
    assert "There is no such audio clip of yours." in await intruder.receive_from(timeout=10)

    done = await receive_until(other_tab, lambda f: f'id="aud-{task_id}"' in f and "Done" in f)
    assert "<audio controls" in done
    await upstream.wait(task_id)
    task, clips, _ = await stored(task_id)
    assert task.status == Task.Status.DONE and len(clips) == 1
    for socket in (intruder, other_tab, ws):
        await socket.disconnect()
