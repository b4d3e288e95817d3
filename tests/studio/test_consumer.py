"""The studio socket against the simulator: images stream in, are saved with their cost, and every
failure is explained on the generation it belongs to, with the socket still open."""

from __future__ import annotations

import re
import time
from decimal import Decimal

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from runware_web.accounts.models import Team
from runware_web.media.models import Image
from runware_web.money.models import Charge
from runware_web.studio import fragments
from runware_web.studio.models import Generation
from runware_web.upstream.models import Task
from tests.conftest import acreate_user
from tests.studio.helpers import PROMPT, card_id, connect, receive_until, request, studio_app, uploaded_image

pytestmark = pytest.mark.django_db(transaction=True)


@database_sync_to_async
def task_state(task_id: str) -> tuple[Task, list[Image], list[Charge]]:
    task = Task.objects.get(pk=task_id)
    return task, list(task.images.order_by("created_at")), list(Charge.objects.filter(task=task))


@database_sync_to_async
def task_count() -> int:
    return Task.objects.count()


async def test_a_valid_request_streams_each_image_as_it_arrives_and_saves_it_with_its_cost(upstream, simulator):
    simulator.set_latency(0.05)
    alice = await acreate_user("alice")
    ws = await connect(alice)
    await ws.send_json_to(request(numberResults=3))

    card = await receive_until(ws, lambda f: 'id="gen-' in f)
    task_id = card_id(card)
    assert card.count('role="status"') == 3  # one placeholder per requested image, at once
    assert "Generating… 0 of 3 images" in card

    slots = []
    for _ in range(3):
        frame = await receive_until(ws, lambda f: f'id="slot-{task_id}-' in f and "<img" in f)
        slots.append(re.search(rf'id="slot-{task_id}-(\d)"', frame).group(1))
        assert f'alt="{PROMPT}"' in frame
    assert slots == ["0", "1", "2"]  # in order of arrival, each replacing the next placeholder

    final = await receive_until(ws, lambda f: f'id="gen-{task_id}"' in f and "Done" in f)
    await upstream.wait(task_id)
    task, images, charges = await task_state(task_id)
    assert task.status == Task.Status.DONE
    assert task.params["numberResults"] == 3 and task.params["positivePrompt"] == PROMPT
    assert [image.kind for image in images] == [Image.Kind.GENERATED] * 3
    assert all(image.cost and image.cost > 0 and image.width == 256 and image.seed for image in images)
    assert task.cost == sum(image.cost for image in images) == sum(charge.amount for charge in charges)
    assert re.search(rf"3 images · \d+\.\d s · \${task.cost.normalize():f}", final)
    await ws.disconnect()


async def test_images_that_arrive_together_each_fill_their_own_slot(upstream, simulator):
    """With no delay Runware's results come in a burst, and the runner records them together: each
    image must still replace its own placeholder, none twice, and the status count ends right."""
    simulator.set_latency(0)
    alice = await acreate_user("alice")
    ws = await connect(alice)
    await ws.send_json_to(request(numberResults=4))
    task_id = card_id(await receive_until(ws, lambda f: 'id="gen-' in f))

    slots = set()
    for _ in range(4):
        frame = await receive_until(ws, lambda f: f'id="slot-{task_id}-' in f and "<img" in f)
        slots.add(re.search(rf'id="slot-{task_id}-(\d)"', frame).group(1))
    assert slots == {"0", "1", "2", "3"}
    final = await receive_until(ws, lambda f: f'id="gen-{task_id}"' in f and "Done" in f)
    assert final.count("<img") == 4 and "4 images" in final
    await ws.disconnect()


async def test_invalid_fields_are_refused_beside_the_field_and_nothing_reaches_runware(upstream):
    alice = await acreate_user("alice")
    ws = await connect(alice)
    await ws.send_json_to(request(positivePrompt="", width="1000", numberResults="50", lora_model=["nonsense"],
                                  lora_weight=["9"]))

    frame = await receive_until(ws, lambda f: 'id="errors-width"' in f)
    assert re.search(r'id="errors-positivePrompt"><span>This field is required', frame)
    assert re.search(r'id="errors-width"><span>Use a multiple of 64 pixels from 128 to 2048, such as 960 or 1024', frame)
    assert re.search(r'id="errors-numberResults"><span>Ensure this value is less than or equal to 20', frame)
    assert re.search(r'id="errors-lora_model-0"><span>Enter a model AIR', frame)
    assert re.search(r'id="errors-lora_weight-0"><span>Ensure this value is less than or equal to 4', frame)
    assert 'id="errors-height"></div>' in frame  # valid fields' old messages are cleared
    assert "nothing was sent to Runware" in frame
    assert await task_count() == 0

    await ws.send_json_to(request())  # the socket stays open and the next request goes through
    card = await receive_until(ws, lambda f: 'id="gen-' in f)
    await upstream.wait(card_id(card))
    await ws.disconnect()


async def test_an_input_image_must_be_the_members_own(upstream):
    alice = await acreate_user("alice")
    mallory = await acreate_user("mallory")
    theirs = await uploaded_image(mallory)
    ws = await connect(alice)
    await ws.send_json_to(request(seedImage=str(theirs.pk)))
    frame = await receive_until(ws, lambda f: 'id="errors-seedImage"' in f)
    assert re.search(r'id="errors-seedImage"><span>That image is not in your gallery', frame)
    assert await task_count() == 0
    await ws.disconnect()


async def test_a_second_generation_runs_alongside_the_first(upstream, simulator):
    simulator.set_latency(0.2)
    alice = await acreate_user("alice")
    ws = await connect(alice)
    await ws.send_json_to(request(numberResults=2, positivePrompt="first of two"))
    first = card_id(await receive_until(ws, lambda f: 'id="gen-' in f))
    await ws.send_json_to(request(numberResults=2, positivePrompt="second of two"))
    second = card_id(await receive_until(ws, lambda f: 'id="gen-' in f and "second of two" in f))
    assert first != second

    first_task, _, _ = await task_state(first)
    assert first_task.status == Task.Status.RUNNING  # still going when the second one started
    await upstream.wait(first)
    await upstream.wait(second)
    for task_id, prompt in ((first, "first of two"), (second, "second of two")):
        task, images, _ = await task_state(task_id)
        assert task.status == Task.Status.DONE
        assert [image.prompt for image in images] == [prompt, prompt]
    await ws.disconnect()


async def test_cancel_stops_waiting_but_what_arrives_later_is_saved_charged_and_marked_cancelled(
    upstream, simulator
):
    simulator.set_latency(0.3)
    alice = await acreate_user("alice")
    ws = await connect(alice)
    await ws.send_json_to(request(numberResults=3))
    task_id = card_id(await receive_until(ws, lambda f: 'id="gen-' in f))

    await ws.send_json_to({"action": "cancel", "task": task_id})
    cancelled = await receive_until(ws, lambda f: f'id="gen-{task_id}"' in f and "Cancelled" in f)
    assert 'role="status"' not in cancelled  # no more placeholders: the page stopped waiting
    assert ">Cancel</button>" not in cancelled

    await upstream.wait(task_id)
    task, images, charges = await task_state(task_id)
    assert task.status == Task.Status.CANCELLED
    assert len(images) == len(charges) == task.results_received == 3  # Runware still billed all three
    assert task.cost == sum(charge.amount for charge in charges) > 0
    late = await receive_until(ws, lambda f: f'id="gen-{task_id}"' in f and f.count("<img") == 3)
    assert "Cancelled · 3 of 3 images arrived" in late
    await ws.disconnect()


async def test_closing_the_socket_mid_generation_loses_nothing(upstream, simulator):
    simulator.set_latency(0.2)
    alice = await acreate_user("alice")
    ws = await connect(alice)
    await ws.send_json_to(request(numberResults=2))
    task_id = card_id(await receive_until(ws, lambda f: 'id="gen-' in f))
    await ws.disconnect()  # the tab closes before any image arrived

    await upstream.wait(task_id)
    task, images, charges = await task_state(task_id)
    assert task.status == Task.Status.DONE
    assert len(images) == len(charges) == 2
    assert task.cost == sum(image.cost for image in images) > 0

    again = await connect_and_get_state(alice)  # the next visit shows them
    assert f'id="gen-{task_id}"' in again and again.count(f'alt="{PROMPT}"') == 2


async def connect_and_get_state(user) -> str:
    ws = WebsocketCommunicator(studio_app, "/ws/studio/")
    ws.scope["user"] = user
    assert (await ws.connect())[0]
    state = await ws.receive_from(timeout=10)
    await ws.disconnect()
    return state


async def test_every_open_tab_of_the_member_sees_the_same_progress(upstream, simulator):
    simulator.set_latency(0.05)
    alice = await acreate_user("alice")
    first_tab, second_tab = await connect(alice), await connect(alice)
    await first_tab.send_json_to(request(numberResults=2))
    task_id = card_id(await receive_until(second_tab, lambda f: 'id="gen-' in f))
    await receive_until(second_tab, lambda f: f'id="slot-{task_id}-1"' in f and "<img" in f)
    await receive_until(second_tab, lambda f: f'id="gen-{task_id}"' in f and "Done" in f)
    await upstream.wait(task_id)
    await first_tab.disconnect()
    await second_tab.disconnect()


@pytest.mark.parametrize(
    "code, message",
    [
        ("insufficientCredits", "The Runware account has run out of credit"),
        ("contentPolicyViolation", "The safety filter blocked this request"),
        ("inputTimeoutExceeded", "The task took too long and timed out"),
        ("modelNotFound", "Runware does not know that model"),
        ("inferenceError", "The model&#x27;s provider failed to produce a result"),
        ("internalServerError", "Runware had an internal error"),
        ("connectionLost", "The connection to Runware was lost"),
    ],
)
async def test_each_upstream_error_is_explained_on_its_generation_and_the_socket_stays_open(
    code, message, upstream, settings
):
    settings.RUNWARE_RECOVERY_TIMEOUT = 1.0  # a lost connection is retried this long before it fails
    alice = await acreate_user("alice")
    ws = await connect(alice)
    await ws.send_json_to(request(positivePrompt=f"a red fox [sim:fail={code}]", numberResults=2))
    task_id = card_id(await receive_until(ws, lambda f: 'id="gen-' in f))

    failed = await receive_until(ws, lambda f: f'id="gen-{task_id}"' in f and "Failed" in f)
    assert "This generation failed." in failed and message in failed
    assert 'role="alert"' in failed and 'role="status"' not in failed
    await upstream.wait(task_id)
    task, images, charges = await task_state(task_id)
    assert task.status == Task.Status.FAILED and task.error_message
    assert images == [] and charges == []  # nothing half-saved

    await ws.send_json_to({"action": "watch", "task": task_id})  # still open
    assert "This generation failed." in await receive_until(ws, lambda f: f'id="gen-{task_id}"' in f)
    await ws.disconnect()


async def test_a_generation_that_fails_at_once_shows_its_card_first_then_the_failure(upstream, monkeypatch):
    """The card goes out before the task is sent, however slow it is to render: Runware may answer
    at once, and a card arriving after the failure would show the generation as still running."""
    render = fragments.new_card

    def slow_card(task: Task) -> str:
        time.sleep(0.3)  # a busy database; Runware answers a failing task within milliseconds
        return render(task)

    monkeypatch.setattr(fragments, "new_card", slow_card)
    ws = await connect(await acreate_user("alice"))
    await ws.send_json_to(request(positivePrompt="a red fox [sim:fail=invalidModel]"))

    cards = [await receive_until(ws, lambda f: 'id="gen-' in f)]
    while "Failed" not in cards[-1]:
        cards.append(await receive_until(ws, lambda f: 'id="gen-' in f))
    assert "Failed" not in cards[0] and 'role="status"' in cards[0]  # the new card, waiting
    assert card_id(cards[-1]) == card_id(cards[0])
    await ws.disconnect()


async def test_a_connection_lost_mid_generation_is_recovered_with_every_image(upstream, simulator):
    simulator.set_latency(0.05)
    alice = await acreate_user("alice")
    ws = await connect(alice)
    await ws.send_json_to(request(positivePrompt="a red fox [sim:drop=1]", numberResults=3))
    task_id = card_id(await receive_until(ws, lambda f: 'id="gen-' in f))
    done = await receive_until(ws, lambda f: f'id="gen-{task_id}"' in f and "Done" in f)
    assert done.count('alt="a red fox [sim:drop=1]"') == 3
    await upstream.wait(task_id)
    task, images, charges = await task_state(task_id)
    assert task.status == Task.Status.DONE and len(images) == len(charges) == 3
    await ws.disconnect()


async def test_runware_refusing_a_field_puts_its_message_beside_that_field(upstream):
    alice = await acreate_user("alice")
    ws = await connect(alice)
    # A checkpoint is not a LoRA: only Runware (here, the simulator) knows that.
    await ws.send_json_to(request(lora_model=["runware:100@1"], lora_weight=["0.8"]))
    task_id = card_id(await receive_until(ws, lambda f: 'id="gen-' in f))
    frame = await receive_until(ws, lambda f: f'id="gen-{task_id}"' in f and "Failed" in f)
    assert re.search(r'id="errors-lora_model-0"><span>Runware refused the value of “lora\[0\].model”', frame)
    await upstream.wait(task_id)
    await ws.disconnect()


async def test_a_refusal_by_the_budget_is_shown_next_to_the_button(upstream):
    alice = await acreate_user("alice", monthly_budget=Decimal("0"))
    ws = await connect(alice)
    await ws.send_json_to(request())
    frame = await receive_until(ws, lambda f: 'id="generate-feedback"' in f)
    assert 'role="alert"' in frame and "monthly budget of $0" in frame  # the spend piece's own words
    assert await task_count() == 0
    await ws.send_json_to({"action": "watch", "task": "00000000-0000-0000-0000-000000000000"})
    assert "There is no such generation of yours." in await ws.receive_from(timeout=5)
    await ws.disconnect()


async def test_another_members_generation_can_be_neither_cancelled_nor_watched(upstream, simulator):
    simulator.set_latency(0.2)
    alice = await acreate_user("alice")
    mallory = await acreate_user("mallory")
    alice_ws = await connect(alice)
    await alice_ws.send_json_to(request(numberResults=2))
    task_id = card_id(await receive_until(alice_ws, lambda f: 'id="gen-' in f))

    mallory_ws = await connect(mallory)
    await mallory_ws.send_json_to({"action": "cancel", "task": task_id})
    assert "There is no such generation of yours." in await mallory_ws.receive_from(timeout=5)
    await mallory_ws.send_json_to({"action": "watch", "task": task_id})
    assert "There is no such generation of yours." in await mallory_ws.receive_from(timeout=5)

    await upstream.wait(task_id)
    task, _, _ = await task_state(task_id)
    assert task.status == Task.Status.DONE  # not cancelled by mallory
    assert await mallory_ws.receive_nothing(timeout=0.3)  # and none of alice's images reached mallory
    await mallory_ws.disconnect()
    await alice_ws.disconnect()


async def test_image_to_image_sends_the_members_upload_and_links_the_results_to_it(upstream):
    alice = await acreate_user("alice")
    seed = await uploaded_image(alice, 320, 192)
    ws = await connect(alice)
    await ws.send_json_to(request(seedImage=str(seed.pk), strength="0.6", width="320", height="192"))
    task_id = card_id(await receive_until(ws, lambda f: 'id="gen-' in f))
    await upstream.wait(task_id)
    task, images, _ = await task_state(task_id)
    assert task.status == Task.Status.DONE
    assert task.params["seedImage"] == f"portal-image:{seed.pk}" and task.params["strength"] == 0.6
    assert images[0].source_id == seed.pk
    generation = await database_sync_to_async(Generation.objects.get)(task_id=task_id)
    assert generation.settings["seedImage"] == str(seed.pk)
    await ws.disconnect()


async def test_outpainting_sends_the_seed_size_plus_the_extension_whatever_the_size_fields_hold(upstream):
    """Runware takes an outpainted result's width and height as the seed image's plus the extension;
    the size fields (here far off, and one invalid) are not used, so they cannot crop the seed."""
    alice = await acreate_user("alice")
    seed = await uploaded_image(alice, 320, 200)  # 200 is not a multiple of 64: the middle is 192
    ws = await connect(alice)
    await ws.send_json_to(request(seedImage=str(seed.pk), outpaint_left="64", outpaint_top="128",
                                  width="1024", height="99"))
    task_id = card_id(await receive_until(ws, lambda f: 'id="gen-' in f))
    await upstream.wait(task_id)
    task, images, _ = await task_state(task_id)
    assert task.status == Task.Status.DONE
    assert (task.params["width"], task.params["height"]) == (384, 320)
    assert task.params["outpaint"] == {"top": 128, "left": 64}
    assert (images[0].width, images[0].height) == (384, 320)
    generation = await database_sync_to_async(Generation.objects.get)(task_id=task_id)
    assert (generation.settings["width"], generation.settings["height"]) == (384, 320)
    await ws.disconnect()


async def test_a_model_outside_the_teams_rules_is_refused_by_the_model_field(upstream):
    team = await database_sync_to_async(Team.objects.create)(name="Pixels", allowed_models="civitai:")
    alice = await acreate_user("alice", team=team)
    ws = await connect(alice)
    await ws.send_json_to(request())
    frame = await receive_until(ws, lambda f: 'id="id_model_error"' in f)
    assert re.search(r'id="id_model_error"><span>Your team&#x27;s rules allow only civitai:, and runware:101@1', frame)
    assert "Nothing was sent: the Model field above says why." in frame
    assert await task_count() == 0
    await ws.disconnect()
