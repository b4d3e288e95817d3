"""Property-based fuzzing of every consumer's input: garbage never crashes a socket, starts a task,
or reaches Runware.

For each socket (through the real ASGI application: Origin check, session, routing) Hypothesis
sends frames that are not JSON, JSON that is not an object, unknown action names, and the real
actions with unknown fields and values of the wrong type or out of range. Every such frame must be
answered with an error (a toast, or the form with its field errors), the socket must stay open,
and no Task may be created nor anything sent upstream. Each test ends with a valid action on the
same socket, which must work.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from channels.db import database_sync_to_async
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runware_web.chat.forms import MAX_REPLY_TOKENS
from runware_web.chat.text_models import DEFAULT_MODEL
from runware_web.live.server import MAX_FRAME_BYTES
from runware_web.studio.forms import GenerateForm
from runware_web.tools.forms import IMAGE_TOOLS
from runware_web.upstream.models import Task
from tests.hardening.helpers import ALERT, connected, drain, make_conversation, make_image, receive_until

pytestmark = pytest.mark.django_db(transaction=True)

FUZZ = settings(
    max_examples=40,
    deadline=None,
    database=None,  # nothing written to the working tree
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# ------------------------------------------------------------------------------------ strategies

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=40))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)
# JSON objects and lists: a field that takes one value must refuse them, never take their repr as text.
structures = st.one_of(st.just({}), st.just([]), st.dictionaries(st.text(max_size=5), scalars, min_size=1, max_size=3),
                       st.lists(st.dictionaries(st.text(max_size=5), scalars, max_size=2), min_size=1, max_size=3))
# Values a required field can never take as text: nothing, or structures.
non_scalars = st.one_of(st.none(), structures)
letters = st.text(alphabet="abcxyz-_ !é", min_size=1, max_size=12)


def not_json_object(text: str) -> bool:
    try:
        return not isinstance(json.loads(text), dict)
    except ValueError:
        return True


garbage_text = st.text(max_size=300).filter(not_json_object)
not_objects = json_values.filter(lambda value: not isinstance(value, dict)).map(json.dumps)


def unknown_fields(known: set[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(st.text(min_size=1, max_size=12).filter(lambda k: k not in known and "_" not in k),
                           json_values, max_size=3)


def unknown_actions(real: set[str]) -> st.SearchStrategy[str]:
    return st.one_of(st.text(max_size=30), st.sampled_from(["__init__", "__class__", "send_error", "connect",
                                                            "disconnect", "receive", "task_update", "run_tool"]))\
        .filter(lambda name: name not in real)


def frames(*actions: st.SearchStrategy[dict[str, Any]], real: set[str]) -> st.SearchStrategy[str]:
    """Any frame a hostile or broken client could send to a socket whose actions are `real`."""
    return st.one_of(
        garbage_text,
        not_objects,
        st.builds(lambda name, extra: json.dumps({"action": name, **extra}), unknown_actions(real), st.dictionaries(st.text(max_size=8), json_values, max_size=3)),
        *[action.map(json.dumps) for action in actions],
    )


def poisoned(base: dict[str, Any], poisons: dict[str, st.SearchStrategy[Any]], known: set[str]) -> st.SearchStrategy[dict[str, Any]]:
    """`base` (a valid request) with at least one field given an invalid value, and unknown fields."""
    names = sorted(poisons)
    return st.builds(
        lambda chosen, values, extra: {**base, **extra, **{name: values[name] for name in chosen}},
        st.lists(st.sampled_from(names), min_size=1, max_size=len(names), unique=True),
        st.fixed_dictionaries({name: poisons[name] for name in names}),
        unknown_fields(known | set(base)),
    )


AIR = re.compile(r"^[a-z0-9][a-z0-9_.-]*:[A-Za-z0-9_.-]+@[A-Za-z0-9_.-]+$")
ids = st.one_of(st.uuids().map(str), st.text(max_size=40), non_scalars, st.integers())


# ------------------------------------------------------------------------------------ the exchange

def is_refusal(frame: str) -> bool:
    """An error toast, or a form re-rendered with its field errors."""
    return ALERT in frame or "has-error" in frame


async def state(user: Any, simulator: Any) -> tuple[int, Any]:
    return await Task.objects.filter(user=user).acount(), simulator.total_charged()


async def assert_refused(ws: Any, frame: str, user: Any, simulator: Any) -> None:
    before = await state(user, simulator)
    await ws.send_input({"type": "websocket.receive", "text": frame})  # send_to() refuses an empty frame
    reply = await ws.receive_from(timeout=10)
    assert is_refusal(reply), f"{frame[:300]!r} was answered with {reply[:300]!r}"
    await ws.send_to(text_data="still there?")
    assert "not JSON" in await receive_until(ws, lambda f: ALERT in f, timeout=10), "the socket must stay open"
    assert await state(user, simulator) == before, f"{frame[:300]!r} started a task or reached Runware"


@pytest.fixture
async def sockets():
    """Connected sockets, kept open across Hypothesis's examples, closed at the end of the test."""
    opened: dict[tuple[int, str], Any] = {}

    async def open_socket(user: Any, path: str) -> Any:
        key = (user.pk, path)
        if key not in opened:
            opened[key] = await connected(user, path)
            await drain(opened[key])
        return opened[key]

    yield open_socket
    for ws in opened.values():
        await ws.disconnect()


# ------------------------------------------------------------------------------------ /ws/studio/

STUDIO_FIELDS = set(GenerateForm.base_fields) | {"action", "HEADERS"}
VALID_GENERATE = {"action": "generate", "positivePrompt": "a lighthouse at dusk", "model": "runware:101@1",
                  "width": "256", "height": "256", "numberResults": "1", "steps": "4", "outputFormat": "PNG"}
bad_side = st.one_of(st.integers().filter(lambda n: not (128 <= n <= 2048 and n % 64 == 0)), letters, non_scalars)
STUDIO_FRAMES = frames(
    poisoned(VALID_GENERATE, {
        "model": st.one_of(st.text(max_size=60).filter(lambda s: not AIR.match(s.strip())), non_scalars),
        "width": bad_side,
        "height": bad_side,
        "numberResults": st.one_of(st.integers().filter(lambda n: not 1 <= n <= 20), letters, non_scalars),
        "positivePrompt": st.one_of(st.text(max_size=1), st.just("   "), non_scalars),
        "steps": st.one_of(st.integers().filter(lambda n: not 1 <= n <= 100), letters),
        "CFGScale": st.one_of(st.floats(min_value=50.01, allow_infinity=True), st.just("nan"), letters),
        "seedImage": st.one_of(letters, st.uuids().map(str)),
        "scheduler": letters,
    }, STUDIO_FIELDS),
    st.fixed_dictionaries({"action": st.sampled_from(["cancel", "watch"]), "task": ids}),
    real={"generate", "cancel", "watch"},
)


@FUZZ
@given(frame=STUDIO_FRAMES)
async def test_the_studio_socket_refuses_garbage(user, sockets, simulator, upstream, frame):
    ws = await sockets(user, "/ws/studio/")
    await assert_refused(ws, frame, user, simulator)


async def test_after_the_garbage_the_studio_socket_still_generates(user, sockets, simulator, upstream):
    ws = await sockets(user, "/ws/studio/")
    for frame in ["\x00\xff", "[]", '{"action": {"x": 1}}', json.dumps({**VALID_GENERATE, "width": [[1]]})]:
        await assert_refused(ws, frame, user, simulator)
    await ws.send_json_to(VALID_GENERATE)
    await receive_until(ws, lambda f: 'id="gen-' in f)
    task = await Task.objects.aget(user=user)
    await upstream.wait(task.pk)
    assert (await Task.objects.aget(pk=task.pk)).status == Task.Status.DONE


# ------------------------------------------------------------------------------------ /ws/chat/

CHAT_SETTINGS = {"model": DEFAULT_MODEL, "systemPrompt": "", "maxTokens": "256", "temperature": "1"}


def chat_frames(conversation_id: str) -> st.SearchStrategy[str]:
    known = {"action", "conversation", "content", *CHAT_SETTINGS}
    return frames(
        # Someone else's, or no conversation at all: every action is "no such conversation".
        st.fixed_dictionaries({"action": st.sampled_from(["send", "stop", "regenerate", "settings"]),
                               "conversation": ids, "content": st.text(max_size=20)}),
        # Her own conversation, with a message that is no message.
        poisoned({"action": "send", "conversation": conversation_id},
                 {"content": st.one_of(st.just(""), st.text(alphabet=" \t\n\r", min_size=1, max_size=5), non_scalars)},
                 known),
        # (The settings form has no model: it is picked in the composer, and a settings frame's is ignored.)
        poisoned({"action": "settings", "conversation": conversation_id, **CHAT_SETTINGS}, {
            "maxTokens": st.one_of(st.integers().filter(lambda n: not 1 <= n <= MAX_REPLY_TOKENS), letters, non_scalars),
            "temperature": st.one_of(st.floats(min_value=2.01), st.floats(max_value=-0.01), letters, non_scalars),
            "systemPrompt": structures,  # optional: nothing is a blank prompt, but a structure is no prompt
        }, known),
        real={"send", "stop", "regenerate", "settings"},
    )


@FUZZ
@given(data=st.data())
async def test_the_chat_socket_refuses_garbage(user, sockets, simulator, upstream, data):
    conversation = await database_sync_to_async(make_conversation)(user, "Alice's chat")
    ws = await sockets(user, "/ws/chat/")
    frame = data.draw(chat_frames(str(conversation.pk)), label="frame")
    await assert_refused(ws, frame, user, simulator)
    await conversation.arefresh_from_db()
    kept = (conversation.model, conversation.max_tokens, conversation.system_prompt)
    assert kept == (DEFAULT_MODEL, 1024, ""), "settings must not change"


# ------------------------------------------------------------------------------------ /ws/tools/

def tools_frames(image_id: str) -> st.SearchStrategy[str]:
    actions = []
    for task_type, form in IMAGE_TOOLS.items():
        known = {"action", *form.base_fields}
        choices = {str(value) for value, _ in form.base_fields["model"].choices}
        actions.append(st.fixed_dictionaries({"action": st.just(task_type), "image": ids}))
        actions.append(poisoned({"action": task_type, "image": image_id},
                                {"model": st.one_of(st.text(max_size=30).filter(lambda s, c=choices: s.strip() not in c),
                                                    non_scalars)}, known))
    return frames(*actions, real=set(IMAGE_TOOLS))


@FUZZ
@given(data=st.data())
async def test_the_tools_socket_refuses_garbage(user, sockets, simulator, upstream, data):
    image = await database_sync_to_async(make_image)(user)
    ws = await sockets(user, "/ws/tools/")
    await assert_refused(ws, data.draw(tools_frames(str(image.pk)), label="frame"), user, simulator)


# ------------------------------------------------------------------------------------ /ws/spend/ (staff)

SPEND_FRAMES = frames(
    st.fixed_dictionaries({
        "action": st.just("set_budget"),
        "kind": st.one_of(st.sampled_from(["member", "team"]), json_values),
        "pk": st.one_of(st.integers(), letters, non_scalars),
        "monthly_budget": st.one_of(st.decimals(max_value="-0.0001", allow_nan=False).map(str), letters,
                                    st.just("1e999"), st.just("NaN"), st.just("12345678901234567.5")),
    }),
    real={"set_budget", "check_balance", "record_starting_point"},
)


@FUZZ
@given(frame=SPEND_FRAMES)
async def test_the_spend_socket_refuses_garbage(staff_user, sockets, simulator, upstream, frame):
    ws = await sockets(staff_user, "/ws/spend/")
    await assert_refused(ws, frame, staff_user, simulator)
    await staff_user.arefresh_from_db()
    assert staff_user.monthly_budget is None


# ------------------------------------------------------------------------------------ huge frames


def generate_frame(size: int) -> str:
    """A generate request of exactly `size` bytes (its prompt padded)."""
    frame = json.dumps({**VALID_GENERATE, "positivePrompt": ""})
    return json.dumps({**VALID_GENERATE, "positivePrompt": "x" * (size - len(frame.encode()))})


# Over MAX_FRAME_BYTES, the worker closes the socket with 1009 before a consumer reads the message
# (runware_web.live.server; tests/live/test_limits.py, against a real worker). Up to it, a consumer
# reads and answers it.
async def test_a_frame_at_the_limit_is_handled_and_the_socket_stays_open(user, sockets, simulator, upstream):
    ws = await sockets(user, "/ws/studio/")
    # Read and answered: a prompt this long is refused next to its field, not by closing the socket.
    await assert_refused(ws, generate_frame(MAX_FRAME_BYTES), user, simulator)
    await ws.send_json_to(VALID_GENERATE)
    await receive_until(ws, lambda f: 'id="gen-' in f)
    assert await Task.objects.filter(user=user).acount() == 1


async def test_a_binary_frame_is_refused_and_the_socket_stays_open(user, sockets, simulator, upstream):
    ws = await sockets(user, "/ws/studio/")
    await ws.send_to(bytes_data=b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    assert "only takes text" in await receive_until(ws, lambda f: ALERT in f)
    await ws.send_to(text_data="still there?")
    assert "not JSON" in await receive_until(ws, lambda f: ALERT in f)


# ------------------------------------------------------------------------------------ structures
# A JSON object or list where a form expects text must be refused next to its field: Django's
# `CharField` would otherwise take its Python repr as the text ("{'a': 1}"), and send it to Runware
# or save it. Chat and tools bind frames with `runware_web.live.frames.bind_frame` (a structure is an error
# on its field, also where the field is optional, as chat's `systemPrompt` is); the fuzzing above
# gives structures to their fields. The studio converts frames with `runware_web.live.frames.as_querydict`
# (a structure is an empty value, so a required field says it is required; an optional one, such as
# `negativePrompt`, takes it as blank, which is why the studio's fuzzing gives structures only to
# required fields).

STRUCTURE = {"a": 1}


async def test_a_structure_as_a_chat_message_is_refused(user, sockets, simulator, upstream):
    conversation = await database_sync_to_async(make_conversation)(user, "Alice's chat")
    ws = await sockets(user, "/ws/chat/")
    await assert_refused(ws, json.dumps({"action": "send", "conversation": str(conversation.pk),
                                         "content": STRUCTURE}), user, simulator)


async def test_a_structure_as_a_system_prompt_is_refused(user, sockets, simulator, upstream):
    conversation = await database_sync_to_async(make_conversation)(user, "Alice's chat")
    ws = await sockets(user, "/ws/chat/")
    await assert_refused(ws, json.dumps({"action": "settings", "conversation": str(conversation.pk),
                                         **CHAT_SETTINGS, "systemPrompt": STRUCTURE}), user, simulator)
    await conversation.arefresh_from_db()
    assert conversation.system_prompt == ""


async def test_a_structure_as_a_caption_question_is_refused(user, sockets, simulator, upstream):
    image = await database_sync_to_async(make_image)(user)
    ws = await sockets(user, "/ws/tools/")
    await assert_refused(ws, json.dumps({"action": "caption", "image": str(image.pk), "model": "runware:150@2",
                                         "prompt": STRUCTURE}), user, simulator)
