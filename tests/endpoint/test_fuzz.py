"""Property-based fuzzing of `/v1`, as the browser sockets are fuzzed (tests/hardening): whatever a
broken or hostile script sends, every malformed task gets a Runware-style error (a code and a
message), the socket stays open and keeps answering, and nothing is started, recorded or billed.

Through the real ASGI application (routing included), on a socket authenticated with a member's
key and kept open across Hypothesis's examples. Each example ends with a ping whose pong proves
the socket still answers, and each test with a valid task on the same socket, which must work.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from channels.testing import WebsocketCommunicator
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runware_web.asgi import application
from runware_web.endpoint.consumers import MAX_FRAME_BYTES
from runware_web.endpoint.models import EndpointCall
from runware_web.endpoint.outputs import RUN_TASK_TYPES
from runware_web.endpoint.services import UTILITY_TASK_TYPES
from runware_web.upstream.models import Task
from tests.endpoint.helpers import PING, amember_with_key, answers_and_pong, eventually, image_task

pytestmark = pytest.mark.django_db(transaction=True)

FUZZ = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=40))
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
non_scalars = st.one_of(
    st.none(),
    st.just({}),
    st.just([]),
    st.lists(scalars, min_size=1, max_size=3),
    st.dictionaries(st.text(max_size=5), scalars, min_size=1, max_size=3),
)
letters = st.text(alphabet="abcxyz-_ !é", min_size=1, max_size=12)

KNOWN_TYPES = {*RUN_TASK_TYPES, *UTILITY_TASK_TYPES, "authentication", "ping"}
VALID = image_task(numberResults=1)
KNOWN_FIELDS = {
    *VALID,
    "taskUUID",
    "outputType",
    "webhookURL",
    "uploadEndpoint",
    "seedImage",
    "maskImage",
    "inputImage",
    "referenceImages",
    "includeCost",
}


def not_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return True
    return False


#: Task objects a script could get wrong: an unknown or missing taskType, a bad taskUUID, and real
#: image tasks with at least one parameter given a value the portal refuses (plus unknown fields).
poisons = {
    "model": st.one_of(letters, non_scalars, st.integers()),
    "numberResults": st.one_of(
        st.integers().filter(lambda n: not 1 <= n <= 20), st.booleans(), letters, non_scalars
    ),
    "deliveryMethod": st.one_of(letters, non_scalars, st.just("stream")),
    "outputType": st.one_of(letters, non_scalars),
    "taskUUID": st.one_of(letters, st.integers(), non_scalars),
    "webhookURL": st.text(min_size=1, max_size=40),
    "uploadEndpoint": st.text(min_size=1, max_size=40),
    "seedImage": st.uuids().map(str),  # an imageUUID that is none of the member's images
}
poisoned_tasks = st.builds(
    lambda chosen, values, extra, task_uuid: {
        **VALID,
        "taskUUID": task_uuid,
        **extra,
        **{name: values[name] for name in chosen},
    },
    st.lists(st.sampled_from(sorted(poisons)), min_size=1, max_size=len(poisons), unique=True),
    st.fixed_dictionaries(poisons),
    st.dictionaries(
        st.text(min_size=1, max_size=12).filter(lambda name: name not in KNOWN_FIELDS),
        json_values,
        max_size=3,
    ),
    st.uuids().map(str),
)
odd_tasks = st.one_of(
    st.builds(
        lambda name, extra, task_uuid: {**extra, "taskType": name, "taskUUID": task_uuid},
        st.text(max_size=30).filter(lambda name: name not in KNOWN_TYPES),
        st.dictionaries(st.text(max_size=8), json_values, max_size=3),
        st.uuids().map(str),
    ),
    st.builds(
        lambda extra, name: {**extra, "taskType": name},
        st.dictionaries(st.text(max_size=8).filter(lambda key: key != "taskType"), json_values, max_size=3),
        st.one_of(non_scalars, st.integers()),
    ),
    json_values.filter(lambda value: not isinstance(value, dict)),
)
bad_tasks = st.one_of(poisoned_tasks, odd_tasks)
frames = st.one_of(
    st.text(max_size=300).filter(not_json),  # not JSON at all
    json_values.filter(lambda value: not isinstance(value, list | dict)).map(json.dumps),  # not tasks
    st.just("[]"),
    bad_tasks.map(json.dumps),  # one task, not in an array (answered as Runware does: as one)
    st.lists(bad_tasks, min_size=1, max_size=4).map(json.dumps),  # several, each answered
    st.integers(MAX_FRAME_BYTES + 1, MAX_FRAME_BYTES + 4096).map(lambda size: "[" + " " * (size - 2) + "]"),
)


async def authenticated(api_key: str) -> WebsocketCommunicator:
    ws = WebsocketCommunicator(application, "/v1")  # as a script connects: no Origin, no cookie
    assert (await ws.connect(timeout=10))[0]
    await ws.send_to(text_data=json.dumps([{"taskType": "authentication", "apiKey": api_key}]))
    assert "connectionSessionUUID" in json.loads(await ws.receive_from(timeout=10))["data"][0]
    return ws


def tasks_in(frame: str) -> int:
    """How many answers a frame gets: one per task of an array, else one (for the frame)."""
    try:
        value = json.loads(frame)
    except ValueError:
        return 1
    return len(value) if isinstance(value, list) and value and len(frame.encode()) <= MAX_FRAME_BYTES else 1


async def recorded(member: Any, simulator: Any) -> tuple[int, int, Any]:
    return (
        await Task.objects.filter(user=member).acount(),
        await EndpointCall.objects.filter(user=member).acount(),
        simulator.total_charged(),
    )


@pytest.fixture
async def socket_of_member(simulator):
    member, _, plaintext = await amember_with_key()
    ws = await authenticated(plaintext)
    yield member, ws
    await ws.disconnect()


@FUZZ
@given(frame=frames)
async def test_malformed_frames_get_runware_errors_keep_the_socket_open_and_bill_nothing(
    frame, socket_of_member, simulator
):
    member, ws = socket_of_member
    before = await recorded(member, simulator)
    await ws.send_input({"type": "websocket.receive", "text": frame})  # send_to() refuses an empty frame
    await ws.send_to(text_data=PING)
    answers = await answers_and_pong(lambda: ws.receive_from(timeout=15), tasks_in(frame))
    for answer in answers:
        assert set(answer) == {"errors"}, f"{frame[:200]!r} was answered with {answer}"
        for error in answer["errors"]:
            assert isinstance(error.get("code"), str) and error["code"], error
            assert isinstance(error.get("message"), str) and error["message"], error
    assert await recorded(member, simulator) == before, (
        f"{frame[:200]!r} started, recorded or billed something"
    )


async def test_after_the_garbage_a_valid_task_on_the_same_socket_works(socket_of_member):
    member, ws = socket_of_member
    for frame in (
        "not json",
        "[]",
        json.dumps([{"taskType": "imageInference", "taskUUID": "nope"}]),
        "[" + " " * MAX_FRAME_BYTES + "]",
    ):
        await ws.send_to(text_data=frame)
        assert "errors" in json.loads(await ws.receive_from(timeout=10))
    task_uuid = str(uuid.uuid4())
    await ws.send_to(text_data=json.dumps([image_task(taskUUID=task_uuid)]))
    result = json.loads(await ws.receive_from(timeout=20))
    assert result["data"][0]["taskUUID"] == task_uuid and result["data"][0]["imageURL"]
    assert await Task.objects.filter(user=member).acount() == 1
    # Handed on as it arrived, then charged and stored: wait for that, which the test's end would
    # otherwise race (PostgreSQL's teardown TRUNCATE against those writes' row locks).
    assert await eventually(lambda: Task.objects.filter(user=member, finished_at__isnull=False).count() == 1)
