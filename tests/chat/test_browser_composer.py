"""What a daily chat user reaches for: the model in the composer, edit and resend, copy buttons,
highlighted code, Ctrl+Enter, and a searchable list that says what each conversation cost."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db.models import Sum
from playwright.sync_api import expect

from runware_web.chat.models import Conversation, Message
from runware_web.lib.money import usd
from runware_web.money.models import Charge
from tests.browser import log_in
from tests.chat.test_browser import start_conversation
from tests.conftest import make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CODE_REPLY = "Here you go:\n\n```python\ndef greet(name):\n    return f'hi {name}'\n```\n\nThat is **all**."


def wait_for_reply(page, count: int = 1):
    reply = page.locator(".message-assistant").nth(count - 1)
    expect(reply.locator(".stats")).to_contain_text("Cost", timeout=20_000)  # the reply has ended
    return reply


def test_the_model_is_picked_in_the_composer_and_ctrl_enter_sends(page):
    make_user("alice")
    log_in(page, "alice")
    start_conversation(page)
    composer = page.locator("#composer")
    expect(composer.get_by_label("Model")).to_have_value("google:gemma@4-31b")

    composer.get_by_label("Model").select_option(label="OpenAI gpt 5-mini")
    page.get_by_label("Message").fill("Which model are you?")
    page.get_by_label("Message").press("Control+Enter")
    reply = wait_for_reply(page)
    expect(reply.locator(".message-head")).to_contain_text("OpenAI gpt 5-mini")
    expect(page.locator(".chat-head")).to_contain_text("OpenAI gpt 5-mini")
    assert Conversation.objects.get().model == "openai:gpt@5-mini"  # the next turns use it too
    page.reload()
    expect(page.locator("#composer").get_by_label("Model")).to_have_value("openai:gpt@5-mini")


def test_code_is_highlighted_and_the_copy_buttons_copy_the_code_and_the_reply(new_context, model_says):
    make_user("alice")
    model_says(CODE_REPLY)
    context = new_context(permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    log_in(page, "alice")
    start_conversation(page)
    page.get_by_label("Message").fill("Write a greeting function")
    page.get_by_role("button", name="Send").click()
    reply = wait_for_reply(page)

    code = reply.locator("pre code")
    expect(code.locator("span.k")).to_have_text(["def", "return"])  # highlighted on the server, by token
    expect(code.locator("span.nf")).to_have_text("greet")

    # Each button says "Copied" for a moment and then its own name again: the two may say it at once.
    copy_code, copy_reply = reply.get_by_role("button", name="Copy code"), reply.get_by_role("button", name="Copy reply")
    copy_code.click()
    expect(reply.locator("[data-copy-code]")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == "def greet(name):\n    return f'hi {name}'\n"

    copy_reply.click()
    expect(reply.locator("[data-copy-message]")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == CODE_REPLY  # the Markdown, as written

    page.locator(".message-user").get_by_role("button", name="Copy").click()
    assert page.evaluate("navigator.clipboard.readText()") == "Write a greeting function"


def test_a_message_is_edited_and_resent_replacing_what_followed(page):
    make_user("alice")
    log_in(page, "alice")
    start_conversation(page)
    page.get_by_label("Message").fill("Name a colour")
    page.get_by_role("button", name="Send").click()
    wait_for_reply(page)
    page.get_by_label("Message", exact=True).fill("Name a fruit")
    page.get_by_role("button", name="Send").click()
    wait_for_reply(page, 2)
    first_reply = page.locator(".message-assistant").first.locator(".message-body").inner_text()

    first = page.locator(".message-user").first
    first.locator("summary", has_text="Edit").click()
    edit = first.get_by_label("Edited text")
    expect(edit).to_have_value("Name a colour")
    edit.fill("")
    first.get_by_role("button", name="Send edit").click()
    expect(first.locator(".errorlist")).to_have_text("Write a message first.")  # next to the field
    expect(page.locator(".message")).to_have_count(4)  # nothing was replaced

    edit.fill("Name a planet")
    edit.press("Control+Enter")
    expect(page.locator(".message-user")).to_have_count(1)
    expect(page.locator(".message-user")).to_contain_text("Name a planet")
    reply = wait_for_reply(page)
    expect(page.locator(".message-assistant")).to_have_count(1)
    assert reply.locator(".message-body").inner_text() != first_reply

    page.reload()
    expect(page.locator(".message-user .message-body")).to_have_text(["Name a planet"])
    expect(page.locator(".message-assistant")).to_have_count(1)
    # What was replaced is kept out of the thread, and its cost stays in the ledger.
    assert Message.objects.filter(replaced=True).count() == 4
    assert Charge.objects.count() == 3


def test_conversations_are_searched_and_the_list_says_what_each_cost(page):
    alice = make_user("alice")
    log_in(page, "alice")
    for question in ("Tell me about lighthouses", "How do tides work"):
        start_conversation(page)
        page.get_by_label("Message").fill(question)
        page.get_by_role("button", name="Send").click()
        wait_for_reply(page)

    page.goto("/chat/")
    rows = page.locator("table.conversations tbody tr")
    expect(rows).to_have_count(2)
    for conversation in Conversation.objects.filter(user=alice):
        total = Charge.objects.filter(task__chat_message__conversation=conversation).aggregate(t=Sum("amount"))["t"]
        assert total > Decimal(0)
        row = rows.filter(has=page.get_by_role("link", name=conversation.display_title))
        expect(row.locator("td").nth(3)).to_have_text(usd(total))

    page.get_by_label("Search conversations").fill("tides")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("How do tides work")
    assert "q=tides" in page.url
    page.get_by_label("Search conversations").fill("lighthouse")  # a word in a message, as typed
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("lighthouses")
    page.get_by_label("Search conversations").fill("volcanoes")
    expect(page.get_by_role("heading", name="No conversation matches “volcanoes”")).to_be_visible()
    page.get_by_role("link", name="show them all").click()
    expect(rows).to_have_count(2)
