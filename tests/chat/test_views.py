"""The chat pages over plain HTTP: the list, a conversation, and the no-JavaScript fallbacks."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.test import AsyncClient, Client
from django.utils import timezone

from runware_web.chat.models import Conversation, Message
from runware_web.upstream.models import Task
from tests.chat.conftest import make_conversation
from tests.conftest import acreate_user


@pytest.mark.django_db
def test_chat_needs_a_login(client):
    response = client.get("/chat/")
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")


@pytest.mark.django_db
def test_the_empty_list_says_how_to_start(alice_client):
    page = alice_client.get("/chat/").content.decode()
    assert "No conversations yet" in page and "New conversation" in page


@pytest.mark.django_db
def test_the_list_shows_the_newest_conversation_first_with_escaped_titles(alice_client, user, other_user):
    now = timezone.now()
    make_conversation(user, title="Old <b>plans</b>", updated_at=now - timedelta(days=2))
    make_conversation(user, title="Fresh ideas", updated_at=now)
    make_conversation(other_user, title="Mallory's secret")
    page = alice_client.get("/chat/").content.decode()
    assert page.index("Fresh ideas") < page.index("Old &lt;b&gt;plans&lt;/b&gt;")
    assert "Mallory" not in page and "<b>plans" not in page


@pytest.mark.django_db
def test_new_conversation_reuses_an_empty_one_and_otherwise_keeps_the_last_settings(alice_client, user):
    first = alice_client.post("/chat/new/")
    conversation = Conversation.objects.get(user=user)
    assert first.url == f"/chat/{conversation.pk}/"
    assert alice_client.post("/chat/new/").url == first.url  # still empty: no pile of blank conversations

    Conversation.objects.filter(pk=conversation.pk).update(model="openai:gpt@5-mini", max_tokens=256)
    Message.objects.create(conversation=conversation, role="user", content="hi")
    second = alice_client.post("/chat/new/")
    newest = Conversation.objects.for_user(user).exclude(pk=conversation.pk).get()
    assert second.url == f"/chat/{newest.pk}/"
    assert (newest.model, newest.max_tokens) == ("openai:gpt@5-mini", 256)


@pytest.mark.django_db
def test_a_conversation_page_shows_its_messages_escaped_and_its_controls(alice_client, user):
    conversation = make_conversation(user, title="Web security")
    Message.objects.create(conversation=conversation, role="user", content="<script>alert(1)</script>")
    Message.objects.create(conversation=conversation, role="assistant", content="Use **escaping**. <img src=x onerror=alert(1)>")
    page = alice_client.get(f"/chat/{conversation.pk}/").content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert" not in page
    assert "<strong>escaping</strong>" in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert '<label for="id_content">Message</label>' in page
    assert re.search(r"<button[^>]*>Send</button>", page) and re.search(r"<button[^>]*>Regenerate</button>", page)
    assert f'ws-connect="/ws/chat/?conversation={conversation.pk}"' in page


@pytest.mark.django_db
def test_an_empty_conversation_says_what_to_do(alice_client, user):
    conversation = make_conversation(user)
    page = alice_client.get(f"/chat/{conversation.pk}/").content.decode()
    assert "No messages yet" in page and "press <strong>Send</strong>" in page


@pytest.mark.django_db(transaction=True)  # deleting goes through an async view (it may stop a reply)
def test_rename_and_delete(alice_client, user):
    conversation = make_conversation(user)
    response = alice_client.post(f"/chat/{conversation.pk}/rename/", {"title": "  Trip to Lisbon "})
    assert response.status_code == 302
    conversation.refresh_from_db()
    assert conversation.title == "Trip to Lisbon"

    response = alice_client.post(f"/chat/{conversation.pk}/delete/")
    assert response.status_code == 302 and response.url == "/chat/"
    assert not Conversation.objects.filter(pk=conversation.pk).exists()
    assert "Conversation deleted." in alice_client.get("/chat/").content.decode()


@pytest.mark.django_db
def test_a_blank_title_is_refused_next_to_the_field(alice_client, user):
    conversation = make_conversation(user, title="Keep me")
    response = alice_client.post(f"/chat/{conversation.pk}/rename/", {"title": "   "})
    assert response.status_code == 400
    assert "Give the conversation a title." in response.content.decode()
    conversation.refresh_from_db()
    assert conversation.title == "Keep me"


@pytest.mark.django_db
def test_settings_over_plain_post(alice_client, user):
    conversation = make_conversation(user)
    bad = alice_client.post(f"/chat/{conversation.pk}/settings/", {
        "maxTokens": "0", "temperature": "0.5", "systemPrompt": "Be terse"})
    assert bad.status_code == 400
    page = bad.content.decode()
    assert "Ensure this value is greater than or equal to 1" in page and "Be terse</textarea>" in page
    good = alice_client.post(f"/chat/{conversation.pk}/settings/", {
        "maxTokens": "10", "temperature": "0.5", "systemPrompt": "Be terse"})
    assert good.status_code == 302
    conversation.refresh_from_db()
    assert (conversation.max_tokens, conversation.system_prompt) == (10, "Be terse")


@pytest.mark.django_db
def test_the_composer_offers_only_the_models_the_teams_rules_allow(alice_client, user):
    from runware_web.accounts.models import Team

    conversation = make_conversation(user, model="openai:gpt@5-mini")
    page = alice_client.get(f"/chat/{conversation.pk}/").content.decode()
    assert 'value="anthropic:claude@haiku-4.5"' in page  # the control: unruled, every text model
    user.team = Team.objects.create(name="Openers", allowed_models="openai:")
    user.save(update_fields=["team"])
    page = alice_client.get(f"/chat/{conversation.pk}/").content.decode()
    composer = page[page.index('id="composer"'):]
    assert 'value="openai:gpt@5-mini" selected' in composer and 'value="openai:gpt@5-nano"' in composer
    assert "anthropic:" not in composer and "google:" not in composer


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("method, suffix", [
    ("get", ""), ("post", "rename/"), ("post", "settings/"), ("post", "delete/"),
    ("post", "send/"), ("post", "stop/"), ("post", "regenerate/"),
])
def test_another_members_conversation_is_a_404(alice_client, other_user, method, suffix):
    theirs = make_conversation(other_user, title="Mallory's")
    data = {"title": "pwned", "content": "hi", "model": "openai:gpt@5-mini", "maxTokens": "5", "temperature": "1"}
    response = getattr(alice_client, method)(f"/chat/{theirs.pk}/{suffix}", data if method == "post" else None)
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.title == "Mallory's" and theirs.max_tokens == 1024
    assert not Message.objects.exists() and not Task.objects.exists()


@pytest.mark.django_db
def test_forms_need_the_csrf_token(user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    conversation = make_conversation(user, title="Keep me")
    assert client.post(f"/chat/{conversation.pk}/rename/", {"title": "x"}).status_code == 403
    assert client.post("/chat/new/").status_code == 403
    page = client.get(f"/chat/{conversation.pk}/").content.decode()
    assert page.count('name="csrfmiddlewaretoken"') >= 6  # new, rename, delete, settings, send, stop, regenerate


@pytest.mark.django_db
def test_history_links_to_the_conversation_holding_a_task(alice_client, user, other_user):
    conversation = make_conversation(user)
    task = Task.objects.create(user=user, feature="chat", task_type="textInference")
    Message.objects.create(conversation=conversation, role="assistant", task=task)
    response = alice_client.get(f"/chat/?task={task.pk}")
    assert response.status_code == 302 and response.url == f"/chat/{conversation.pk}/"

    theirs = make_conversation(other_user)
    their_task = Task.objects.create(user=other_user, feature="chat", task_type="textInference")
    Message.objects.create(conversation=theirs, role="assistant", task=their_task)
    assert alice_client.get(f"/chat/?task={their_task.pk}").status_code == 404
    assert alice_client.get(f"/chat/?task={uuid.uuid4()}").status_code == 404
    assert alice_client.get("/chat/?task=nonsense").status_code == 404


# ---------------------------------------------------------------------- fallback: sending over POST


@pytest.mark.django_db(transaction=True)
async def test_sending_over_plain_post_streams_the_reply_in_the_background(upstream):
    alice = await acreate_user("alice")
    conversation = await database_sync_to_async(make_conversation)(alice)
    client = AsyncClient()
    await client.aforce_login(alice)

    empty = await client.post(f"/chat/{conversation.pk}/send/", {"content": ""})
    assert empty.status_code == 400 and "Write a message first." in empty.content.decode()

    response = await client.post(f"/chat/{conversation.pk}/send/", {"content": "Explain compilers"})
    assert response.status_code == 302 and response.url == f"/chat/{conversation.pk}/#composer"
    reply = await database_sync_to_async(lambda: conversation.messages.get(role="assistant"))()
    await upstream.wait(reply.task_id)

    page = (await client.get(f"/chat/{conversation.pk}/")).content.decode()
    saved = await database_sync_to_async(Message.objects.get)(pk=reply.pk)
    assert saved.status == Message.Status.DONE and saved.cost > 0
    assert "compilers" in page and "Explain compilers" in page
    assert (await database_sync_to_async(Conversation.objects.get)(pk=conversation.pk)).title == "Explain compilers"


@pytest.mark.django_db(transaction=True)
async def test_stop_and_regenerate_over_plain_post(upstream, slow_stream):
    slow_stream(0.05)
    alice = await acreate_user("alice")
    conversation = await database_sync_to_async(make_conversation)(alice)
    client = AsyncClient()
    await client.aforce_login(alice)

    nothing = await client.post(f"/chat/{conversation.pk}/regenerate/", follow=True)
    assert "There is no reply to regenerate yet" in nothing.content.decode()

    await client.post(f"/chat/{conversation.pk}/send/", {"content": "Explain rivers"})
    reply = await database_sync_to_async(lambda: conversation.messages.get(role="assistant"))()
    stopped = await client.post(f"/chat/{conversation.pk}/stop/")
    assert stopped.status_code == 302
    await upstream.wait(reply.task_id)
    assert (await database_sync_to_async(Message.objects.get)(pk=reply.pk)).status == Message.Status.STOPPED

    slow_stream(0.0)
    await client.post(f"/chat/{conversation.pk}/regenerate/")
    fresh = await database_sync_to_async(lambda: conversation.messages.get(role="assistant", replaced=False))()
    assert fresh.pk != reply.pk
    await upstream.wait(fresh.task_id)
