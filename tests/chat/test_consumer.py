"""/ws/chat/: a member sends a message and watches the reply stream in; stop, regenerate, errors."""

from __future__ import annotations

import html
import re
from decimal import Decimal

import pytest
from channels.db import database_sync_to_async

from runware_web.chat import text_models
from runware_web.chat.models import Conversation, Message
from runware_web.live.frames import STRUCTURE_ERROR
from runware_web.money.models import Charge
from runware_web.upstream.models import Task
from tests.chat.conftest import acreate_conversation, chat_socket
from tests.conftest import acreate_user

pytestmark = pytest.mark.django_db(transaction=True)


# ---------------------------------------------------------------------- helpers


def body_text(frame: str, message_id: int) -> str | None:
    """The visible text of a message's body in a frame (whitespace normalised), or None."""
    match = re.search(rf'<div id="msg-{message_id}-body"[^>]*>(.*?)</div>', frame, re.S)
    if match is None:
        return None
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", match.group(1))).split())


def visible(text: str) -> str:
    return " ".join(text.split())


def has_ended(frame: str, message_id: int) -> bool:
    return f'id="msg-{message_id}-meta"' in frame and "Writing…" not in frame


async def frames_until(ws, done, timeout: float = 10) -> list[str]:
    frames = []
    while True:
        frame = await ws.receive_from(timeout=timeout)
        frames.append(frame)
        if done(frame):
            return frames


@database_sync_to_async
def latest_reply(conversation: Conversation) -> Message:
    return conversation.messages.filter(role="assistant").order_by("-id").first()


@database_sync_to_async
def reload(message: Message) -> Message:
    return Message.objects.select_related("task").get(pk=message.pk)


@database_sync_to_async
def charges_of(task_id) -> list[Decimal]:
    return list(Charge.objects.filter(task_id=task_id).values_list("amount", flat=True))


async def connect(user, conversation) -> object:
    ws = chat_socket(user, conversation)
    connected, _ = await ws.connect()
    assert connected
    assert f'id="thread-{conversation.pk}"' in await ws.receive_from()  # the current thread, on connect
    return ws


async def send(ws, conversation, content: str) -> Message:
    await ws.send_json_to({"action": "send", "conversation": str(conversation.pk), "content": content})
    frame = await ws.receive_from(timeout=10)
    reply = await latest_reply(conversation)
    assert reply is not None, frame
    assert f'id="msg-{reply.pk}"' in frame
    return reply


# ---------------------------------------------------------------------- streaming


async def test_a_reply_streams_in_order_and_the_saved_reply_is_the_streamed_text(upstream, slow_stream):
    slow_stream(0.02)
    alice = await acreate_user("alice")
    conversation = await acreate_conversation(alice)
    ws = await connect(alice, conversation)

    reply = await send(ws, conversation, "Explain how rainbows form after the rain")
    frames = await frames_until(ws, lambda f: has_ended(f, reply.pk))
    await upstream.wait(reply.task_id)

    bodies = [b for b in (body_text(f, reply.pk) for f in frames) if b]
    assert len(set(bodies)) >= 3, "the reply should arrive in several pieces"
    for earlier, later in zip(bodies, bodies[1:], strict=False):
        assert later.startswith(earlier), "each piece extends what was shown before"
    saved = await reload(reply)
    assert saved.status == Message.Status.DONE
    assert visible(saved.content) == bodies[-1]
    assert saved.finish_reason == "stop"
    assert saved.prompt_tokens > 0 and saved.completion_tokens > 0 and saved.total_tokens > 0
    assert saved.cost > 0 and saved.cost == saved.task.cost == sum(await charges_of(reply.task_id))
    assert saved.first_token_at is not None and saved.finished_at >= saved.first_token_at
    final = frames[-1]
    assert "Tokens" in final and "Cost" in final
    await ws.disconnect()


async def test_reasoning_is_saved_and_shown_folded(upstream):
    alice = await acreate_user("alice")
    conversation = await acreate_conversation(alice, model="minimax:m2.7@0")  # a model that thinks aloud
    ws = await connect(alice, conversation)

    reply = await send(ws, conversation, "Give me three tips for writing tests")
    frames = await frames_until(ws, lambda f: has_ended(f, reply.pk))
    await upstream.wait(reply.task_id)

    saved = await reload(reply)
    assert saved.reasoning and saved.reasoning_tokens
    assert any(f'id="msg-{reply.pk}-reasoning"' in f and "The user is asking" in f for f in frames)
    await ws.disconnect()
    page = await database_sync_to_async(_page_html)(alice, conversation)
    assert re.search(r'<details class="fold reasoning">\s*<summary>Reasoning</summary>', page)  # folded


def _page_html(user, conversation) -> str:
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client.get(f"/chat/{conversation.pk}/").content.decode()


async def test_closing_the_socket_mid_reply_still_saves_the_reply_and_its_cost(upstream, slow_stream):
    slow_stream(0.03)
    alice = await acreate_user("alice")
    conversation = await acreate_conversation(alice)
    ws = await connect(alice, conversation)
    reply = await send(ws, conversation, "Explain how tides work")
    await frames_until(ws, lambda f: bool(body_text(f, reply.pk)))
    await ws.disconnect()  # the member closed the tab

    await upstream.wait(reply.task_id)
    saved = await reload(reply)
    assert saved.status == Message.Status.DONE
    assert "tides" in saved.content.lower()
    assert saved.cost > 0 and [saved.cost] == await charges_of(reply.task_id)


async def test_stop_keeps_the_text_shown_and_the_ledger_keeps_the_real_cost(upstream, slow_stream):
    slow_stream(0.03)
    alice = await acreate_user("alice")
    conversation = await acreate_conversation(alice)
    ws = await connect(alice, conversation)
    reply = await send(ws, conversation, "Write a list of tips for learning python with code")
    await frames_until(ws, lambda f: bool(body_text(f, reply.pk)))

    await ws.send_json_to({"action": "stop", "conversation": str(conversation.pk)})
    stopped = await frames_until(ws, lambda f: has_ended(f, reply.pk) and "Stopped" in f)
    shown = body_text(stopped[-1], reply.pk)
    assert shown
    assert 'form="stop-' not in stopped[-1]  # the Stop button is gone, Send is back
    assert "Regenerate" in stopped[-1]

    await upstream.wait(reply.task_id)  # the runner read the stream to its end
    after = await frames_until(ws, lambda f: has_ended(f, reply.pk) and "Cost" in f)
    later = [b for b in (body_text(f, reply.pk) for f in after) if b is not None]
    assert later[-1] == shown and all(shown.startswith(b) for b in later), "nothing grows after Stop"
    saved = await reload(reply)
    assert saved.status == Message.Status.STOPPED
    assert visible(saved.content) == shown
    assert saved.task.status == Task.Status.CANCELLED
    assert saved.usage["completionTokens"] > len(saved.content.split()), "billed for the whole generation"
    assert saved.cost > 0 and [saved.cost] == await charges_of(reply.task_id)
    await ws.disconnect()


async def test_stop_with_nothing_being_written_says_so(upstream):
    alice = await acreate_user("alice")
    conversation = await acreate_conversation(alice)
    ws = await connect(alice, conversation)
    await ws.send_json_to({"action": "stop", "conversation": str(conversation.pk)})
    assert "No reply is being written" in await ws.receive_from()
    await ws.disconnect()


async def test_regenerate_replaces_the_last_reply_and_each_turn_sends_the_whole_conversation(upstream):
    alice = await acreate_user("alice")
    conversation = await acreate_conversation(alice, system_prompt="Answer like a pirate.", max_tokens=300)
    ws = await connect(alice, conversation)
    first = await send(ws, conversation, "What is a good name for a cat?")
    await frames_until(ws, lambda f: has_ended(f, first.pk))
    await upstream.wait(first.task_id)

    await ws.send_json_to({"action": "regenerate", "conversation": str(conversation.pk)})
    frame = await ws.receive_from()
    second = await latest_reply(conversation)
    assert second.pk != first.pk and second.task_id != first.task_id
    assert f'<li id="msg-{second.pk}"' in frame
    assert f'<div id="msg-{first.pk}" hx-swap-oob="delete">' in frame  # the old reply leaves the page
    await frames_until(ws, lambda f: has_ended(f, second.pk))
    await upstream.wait(second.task_id)
    assert (await reload(first)).replaced

    third = await send(ws, conversation, "And for a dog?")
    await frames_until(ws, lambda f: has_ended(f, third.pk))
    await upstream.wait(third.task_id)
    task = (await reload(third)).task
    regenerated = await reload(second)
    assert task.params["messages"] == [
        {"role": "user", "content": "What is a good name for a cat?"},
        {"role": "assistant", "content": regenerated.content},
        {"role": "user", "content": "And for a dog?"},
    ]
    assert task.params["settings"] == {"maxTokens": 300, "temperature": 1.0, "systemPrompt": "Answer like a pirate."}
    assert task.params["model"] == conversation.model
    await ws.disconnect()


async def test_regenerate_without_a_reply_says_what_to_do(upstream):
    alice = await acreate_user("alice")
    conversation = await acreate_conversation(alice)
    ws = await connect(alice, conversation)
    await ws.send_json_to({"action": "regenerate", "conversation": str(conversation.pk)})
    assert "no reply to regenerate yet" in await ws.receive_from()
    await ws.disconnect()


async def test_older_messages_are_left_out_with_a_visible_note(upstream, monkeypatch):
    monkeypatch.setitem(text_models.CONTEXT_TOKENS, "openai:gpt@5-mini", 400)
    alice = await acreate_user("alice")
    conversation = await acreate_conversation(alice, model="openai:gpt@5-mini", max_tokens=100)
    await database_sync_to_async(_old_turns)(conversation, 3)
    ws = await connect(alice, conversation)

    await ws.send_json_to({"action": "send", "conversation": str(conversation.pk), "content": "Summarise what we said"})
    thread = await ws.receive_from()
    reply = await latest_reply(conversation)
    await frames_until(ws, lambda f: has_ended(f, reply.pk))
    await upstream.wait(reply.task_id)

    sent = (await reload(reply)).task.params["messages"]
    assert sent[-1] == {"role": "user", "content": "Summarise what we said"}
    assert sent[0]["role"] == "user" and len(sent) < 7
    note = re.search(rf'<li id="msg-{reply.pk}".*?</li>', thread, re.S).group(0)
    assert "Older messages were left out to fit the model's limit" in note
    assert (await reload(reply)).left_out == 7 - len(sent)
    await ws.disconnect()


def _old_turns(conversation: Conversation, count: int) -> None:
    for index in range(count):
        Message.objects.create(conversation=conversation, role="user", content=f"question {index} " + "q" * 400)
        Message.objects.create(conversation=conversation, role="assistant", content=f"answer {index} " + "a" * 400)


# ---------------------------------------------------------------------- bad input and errors


async def test_an_empty_message_is_refused_next_to_the_field_and_the_socket_stays_open(upstream):
    alice = await acreate_user("alice")
    conversation = await acreate_conversation(alice)
    ws = await connect(alice, conversation)
    await ws.send_json_to({"action": "send", "conversation": str(conversation.pk), "content": "   "})
    frame = await ws.receive_from()
    assert f'id="composer-field-{conversation.pk}"' in frame and "Write a message first." in frame
    reply = await send(ws, conversation, "Now a real question about bridges")
    await frames_until(ws, lambda f: has_ended(f, reply.pk))
    await upstream.wait(reply.task_id)
    await ws.disconnect()


async def test_sending_while_a_reply_is_written_is_refused_and_keeps_the_text(upstream, slow_stream):
    slow_stream(0.03)
    alice = await acreate_user("alice")
    conversation = await acreate_conversation(alice)
    ws = await connect(alice, conversation)
    reply = await send(ws, conversation, "Explain volcanoes")
    await ws.send_json_to({"action": "send", "conversation": str(conversation.pk), "content": "and <b>earthquakes</b>?"})
    refused = await frames_until(ws, lambda f: "composer-field" in f)
    assert "still being written" in refused[-1]
    assert "and &lt;b&gt;earthquakes&lt;/b&gt;?</textarea>" in refused[-1]  # kept, and escaped
    await ws.send_json_to({"action": "stop", "conversation": str(conversation.pk)})
    await upstream.wait(reply.task_id)
    await ws.disconnect()


async def test_a_budget_refusal_is_shown_next_to_the_message(upstream):
    alice = await acreate_user("alice", monthly_budget=Decimal("0"))
    conversation = await acreate_conversation(alice)
    ws = await connect(alice, conversation)
    await ws.send_json_to({"action": "send", "conversation": str(conversation.pk), "content": "Hello there"})
    frame = await ws.receive_from()
    assert "monthly budget" in frame and "Hello there</textarea>" in frame
    assert not await database_sync_to_async(conversation.messages.exists)()
    await ws.disconnect()


@pytest.mark.parametrize(
    "content, model, expected",
    [
        ("Tell me a story [sim:fail=contentPolicyViolation]", None, "The safety filter blocked this request"),
        ("Tell me a story [sim:fail=providerTimeout]", None, "timed out"),
        ("Tell me a story [sim:fail=maxTokensExceeded]", None, "Runware refused a setting"),
        ("Tell me a story", "openai:gpt@0-retired", "does not know that model"),
    ],
    ids=["safety", "timeout", "limit", "unknown-model"],
)
async def test_errors_appear_in_the_conversation(upstream, content, model, expected):
    alice = await acreate_user("alice")
    conversation = await acreate_conversation(alice, **({"model": model} if model else {}))
    ws = await connect(alice, conversation)
    reply = await send(ws, conversation, content)
    frames = await frames_until(ws, lambda f: has_ended(f, reply.pk))
    await upstream.wait(reply.task_id)
    assert expected in frames[-1] and "Failed" in frames[-1]
    assert "Regenerate" in frames[-1]  # and what to try next
    saved = await reload(reply)
    assert saved.status == Message.Status.FAILED and expected in saved.error
    await ws.disconnect()


async def test_a_stream_cut_off_midway_keeps_what_arrived_and_says_it_failed(upstream):
    alice = await acreate_user("alice")
    conversation = await acreate_conversation(alice)
    ws = await connect(alice, conversation)
    reply = await send(ws, conversation, "Tell me a long story about ships [sim:drop=6]")
    frames = await frames_until(ws, lambda f: has_ended(f, reply.pk))
    await upstream.wait(reply.task_id)
    saved = await reload(reply)
    assert saved.status == Message.Status.FAILED and saved.error
    assert saved.content and body_text(frames[-1], reply.pk) == visible(saved.content)
    assert 'class="form-error message-error" role="alert"' in frames[-1] and "Failed" in frames[-1]
    await ws.disconnect()


async def test_invalid_settings_are_shown_next_to_the_field_and_nothing_is_saved(upstream):
    alice = await acreate_user("alice")
    conversation = await acreate_conversation(alice)
    ws = await connect(alice, conversation)
    await ws.send_json_to({
        "action": "settings", "conversation": str(conversation.pk),
        "model": "openai:gpt@5-mini", "maxTokens": "0", "temperature": "3", "systemPrompt": "Be brief",
    })
    frame = await ws.receive_from()
    assert "Ensure this value is greater than or equal to 1" in frame
    assert "Ensure this value is less than or equal to 2" in frame
    assert "Be brief</textarea>" in frame  # what was typed is kept
    assert (await database_sync_to_async(Conversation.objects.get)(pk=conversation.pk)).system_prompt == ""

    await ws.send_json_to({
        "action": "settings", "conversation": str(conversation.pk),
        "model": "openai:gpt@5-mini", "maxTokens": "200", "temperature": "0.2", "systemPrompt": "Be brief",
    })
    assert "Saved" in await ws.receive_from()
    saved = await database_sync_to_async(Conversation.objects.get)(pk=conversation.pk)
    assert (saved.max_tokens, saved.temperature, saved.system_prompt) == (200, 0.2, "Be brief")
    await ws.disconnect()


async def test_a_number_as_a_message_is_sent_as_its_text_as_a_form_post_would_be(upstream):
    # A textarea posted with 42 in it carries the text "42"; a script that sends the JSON number gets
    # the same message, as on every other socket (the studio and the tools take numbers as text too).
    alice = await acreate_user("alice")
    conversation = await acreate_conversation(alice)
    ws = await connect(alice, conversation)
    await ws.send_json_to({"action": "send", "conversation": str(conversation.pk), "content": 42})
    frame = await ws.receive_from(timeout=10)
    reply = await latest_reply(conversation)
    assert reply is not None, frame
    await frames_until(ws, lambda f: has_ended(f, reply.pk))
    await upstream.wait(reply.task_id)
    question = await database_sync_to_async(conversation.messages.get)(role="user")
    assert question.content == "42"
    assert (await reload(reply)).task.params["messages"] == [{"role": "user", "content": "42"}]
    await ws.disconnect()


def field_with_error(frame: str) -> str:
    """The one field of a fragment that shows an error, with its input and its messages."""
    fields = re.findall(r'<div[^>]*class="field[^"]*has-error[^"]*">.*?</div>', frame, re.S)
    assert len(fields) == 1, frame
    return html.unescape(fields[0])


async def test_a_structure_is_refused_next_to_its_field_and_the_other_values_are_kept(upstream):
    alice = await acreate_user("alice")
    conversation = await acreate_conversation(alice, system_prompt="Answer like a pirate.")
    ws = await connect(alice, conversation)
    await ws.send_json_to({
        "action": "settings", "conversation": str(conversation.pk),
        "model": "openai:gpt@5-mini", "maxTokens": 200, "temperature": "0.2", "systemPrompt": {"text": "Be brief"},
    })
    frame = await ws.receive_from()
    field = field_with_error(frame)
    assert 'name="systemPrompt"' in field and STRUCTURE_ERROR in field and "{'text'" not in field
    assert 'value="200"' in frame and 'value="0.2"' in frame
    assert "Nothing was saved" in frame
    saved = await database_sync_to_async(Conversation.objects.get)(pk=conversation.pk)
    assert (saved.max_tokens, saved.system_prompt) == (conversation.max_tokens, "Answer like a pirate.")

    await ws.send_json_to({"action": "send", "conversation": str(conversation.pk), "content": ["Hello"]})
    frame = await ws.receive_from()
    assert f'id="composer-field-{conversation.pk}"' in frame
    field = field_with_error(frame)
    assert 'name="content"' in field and STRUCTURE_ERROR in field
    assert "Write a message first." not in field  # it was not empty: it was not a message
    assert not await database_sync_to_async(conversation.messages.exists)()

    reply = await send(ws, conversation, "Hello")  # the socket is still open, and still sends
    await frames_until(ws, lambda f: has_ended(f, reply.pk))
    await upstream.wait(reply.task_id)
    await ws.disconnect()


# ---------------------------------------------------------------------- isolation


async def test_another_members_conversation_cannot_be_read_or_written_through_the_socket(upstream):
    alice = await acreate_user("alice")
    mallory = await acreate_user("mallory")
    theirs = await acreate_conversation(alice, title="Alice's plans")

    ws = chat_socket(mallory, theirs)  # asks for Alice's thread on connect
    assert (await ws.connect())[0]
    assert await ws.receive_nothing(timeout=0.3)
    for action, extra in [("send", {"content": "hi"}), ("stop", {}), ("regenerate", {}),
                          ("settings", {"model": "openai:gpt@5-mini", "maxTokens": "5", "temperature": "1"})]:
        await ws.send_json_to({"action": action, "conversation": str(theirs.pk), **extra})
        frame = await ws.receive_from()
        assert "No such conversation" in frame and "Alice" not in frame
    await ws.send_json_to({"action": "send", "conversation": "not-a-uuid", "content": "hi"})
    assert "No such conversation" in await ws.receive_from()
    await ws.disconnect()

    untouched = await database_sync_to_async(Conversation.objects.get)(pk=theirs.pk)
    assert untouched.model == theirs.model and untouched.max_tokens == theirs.max_tokens
    assert not await database_sync_to_async(Message.objects.exists)()
    assert not await database_sync_to_async(Task.objects.exists)()


async def test_a_members_reply_never_reaches_another_members_socket(upstream):
    alice = await acreate_user("alice")
    mallory = await acreate_user("mallory")
    conversation = await acreate_conversation(alice)
    ws_alice = await connect(alice, conversation)
    ws_mallory = chat_socket(mallory)
    assert (await ws_mallory.connect())[0]

    reply = await send(ws_alice, conversation, "Explain photosynthesis")
    await frames_until(ws_alice, lambda f: has_ended(f, reply.pk))
    await upstream.wait(reply.task_id)
    assert await ws_mallory.receive_nothing(timeout=0.3)
    await ws_alice.disconnect()
    await ws_mallory.disconnect()


async def test_a_reconnecting_page_is_sent_the_current_thread(upstream):
    alice = await acreate_user("alice")
    conversation = await acreate_conversation(alice)
    ws = await connect(alice, conversation)
    reply = await send(ws, conversation, "Explain gravity")
    await ws.disconnect()
    await upstream.wait(reply.task_id)

    again = chat_socket(alice, conversation)
    assert (await again.connect())[0]
    frame = await again.receive_from()
    saved = await reload(reply)
    assert saved.status == Message.Status.DONE
    assert f'id="msg-{reply.pk}"' in frame and "Writing…" not in frame
    assert body_text(frame, reply.pk) == visible(saved.content) and "gravity" in saved.content.lower()
    await again.disconnect()


# ---------------------------------------------------------------------- edit and resend


async def test_an_edited_message_replaces_itself_and_what_followed_and_only_the_members_own(upstream, slow_stream):
    alice = await acreate_user("alice")
    mallory = await acreate_user("mallory")
    conversation = await acreate_conversation(alice)
    theirs = await acreate_conversation(mallory)
    ws = await connect(alice, conversation)
    first = await send(ws, conversation, "Name a colour")
    await frames_until(ws, lambda f: has_ended(f, first.pk))
    question = await database_sync_to_async(conversation.messages.get)(role="user")

    slow_stream(0.05)
    second = await send(ws, conversation, "Name a fruit")  # still being written: an edit must wait
    await ws.send_json_to({"action": "edit", "conversation": str(conversation.pk),
                           "message": question.pk, "content": "Name a planet"})
    frame = await frames_until(ws, lambda f: f'id="msg-{question.pk}-edit"' in f)
    assert "A reply is still being written" in frame[-1] and "Name a planet</textarea>" in frame[-1]
    await ws.send_json_to({"action": "stop", "conversation": str(conversation.pk)})
    await frames_until(ws, lambda f: has_ended(f, second.pk))
    slow_stream(0.0)

    # Mallory's socket cannot edit Alice's message through her own conversation.
    spy = await connect(mallory, theirs)
    await spy.send_json_to({"action": "edit", "conversation": str(theirs.pk),
                            "message": question.pk, "content": "pwned"})
    assert "no longer in this conversation" in await spy.receive_from()
    await spy.disconnect()

    await ws.send_json_to({"action": "edit", "conversation": str(conversation.pk),
                           "message": question.pk, "content": "Name a planet"})
    # (A piece of the stopped reply may come first: it was being saved as Stop was pressed, and holds
    # the text the stop kept.)
    frame = (await frames_until(ws, lambda f: 'hx-swap-oob="delete"' in f))[-1]
    for gone in (question.pk, first.pk, second.pk):
        assert f'<div id="msg-{gone}" hx-swap-oob="delete">' in frame
    reply = await latest_reply(conversation)
    await frames_until(ws, lambda f: has_ended(f, reply.pk))
    await upstream.wait(reply.task_id)
    sent = (await reload(reply)).task.params["messages"]
    assert sent == [{"role": "user", "content": "Name a planet"}]  # the replaced turns are not sent
    visible_messages = await database_sync_to_async(
        lambda: list(conversation.messages.filter(replaced=False).values_list("content", flat=True)))()
    assert visible_messages[0] == "Name a planet" and len(visible_messages) == 2
    assert await charges_of(first.task_id)  # what was replaced was billed, and stays in the ledger
    await ws.disconnect()
