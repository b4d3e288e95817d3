"""A member chats in a real browser: the reply grows in place, survives a reload, and is never HTML."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser import log_in
from tests.conftest import make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Records each distinct text the newest reply shows, as the page changes.
WATCH_REPLY = """() => {
  window.replySnapshots = [];
  new MutationObserver(() => {
    const bodies = document.querySelectorAll('.message-assistant .message-body');
    const text = bodies.length ? bodies[bodies.length - 1].textContent.trim() : '';
    const seen = window.replySnapshots;
    if (text && seen[seen.length - 1] !== text) seen.push(text);
  }).observe(document.querySelector('[data-chat-scroll]'), {subtree: true, childList: true, characterData: true});
}"""


def start_conversation(page) -> None:
    page.goto("/chat/")
    page.get_by_role("button", name="New conversation").click()
    expect(page.get_by_text("No messages yet")).to_be_visible()


def test_a_reply_grows_in_place_and_the_conversation_is_there_after_a_reload(page, slow_stream):
    make_user("alice")
    slow_stream(0.04)
    log_in(page, "alice")
    page.goto("/chat/")
    expect(page.get_by_text("No conversations yet")).to_be_visible()
    start_conversation(page)
    page.evaluate(WATCH_REPLY)

    page.get_by_label("Message").fill("Explain how lighthouses work")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("button", name="Stop")).to_be_visible()
    expect(page.get_by_label("Message")).to_have_value("")
    reply = page.locator(".message-assistant").last
    expect(reply.locator(".stats")).to_contain_text("Cost", timeout=20_000)  # the reply has ended
    expect(page.get_by_role("button", name="Stop")).to_have_count(0)

    snapshots = page.evaluate("window.replySnapshots")
    assert len(snapshots) >= 4, f"the reply should be seen growing before it ends: {snapshots}"
    assert all(len(a) < len(b) for a, b in zip(snapshots, snapshots[1:], strict=False))
    final = reply.locator(".message-body").inner_text()

    page.reload()
    expect(page.locator(".message-user")).to_contain_text("Explain how lighthouses work")
    expect(page.locator(".message-assistant .message-body")).to_have_text(final)
    page.goto("/chat/")
    page.get_by_role("link", name="Explain how lighthouses work").click()
    expect(page.locator(".message-assistant .message-body")).to_have_text(final)

    page.goto("/chat/")  # rename and delete from the list
    page.get_by_text("Rename", exact=True).click()
    page.get_by_label("Title").fill("Lighthouses")
    page.get_by_role("button", name="Save title").click()
    expect(page.get_by_text("Conversation renamed.")).to_be_visible()
    expect(page.get_by_role("link", name="Lighthouses")).to_be_visible()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete").click()
    expect(page.get_by_text("Conversation deleted.")).to_be_visible()
    expect(page.get_by_text("No conversations yet")).to_be_visible()


def test_html_in_a_reply_is_shown_as_text(page, model_says):
    make_user("alice")
    model_says("Careful: <img src=x onerror=alert(1)> is **not** an image.")
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    log_in(page, "alice")
    start_conversation(page)

    page.get_by_label("Message").fill("Show me an image tag")
    page.get_by_role("button", name="Send").click()
    reply = page.locator(".message-assistant").last
    expect(reply.locator(".stats")).to_contain_text("Cost")
    expect(reply.locator(".message-body")).to_contain_text("<img src=x onerror=alert(1)>")
    expect(reply.locator(".message-body strong")).to_have_text("not")  # Markdown still renders
    expect(page.locator(".thread img")).to_have_count(0)
    page.reload()
    expect(page.locator(".message-assistant .message-body")).to_contain_text("<img src=x onerror=alert(1)>")
    expect(page.locator(".thread img")).to_have_count(0)
    assert dialogs == []


def test_bad_input_is_explained_next_to_the_field_and_stop_ends_the_reply(page, slow_stream):
    make_user("alice")
    slow_stream(0.05)
    log_in(page, "alice")
    start_conversation(page)

    page.get_by_role("button", name="Send").click()
    expect(page.locator(".composer .errorlist")).to_have_text("Write a message first.")

    page.locator("summary", has_text="Settings").click()
    page.get_by_label("Max tokens").fill("0")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_text("Ensure this value is greater than or equal to 1.")).to_be_visible()
    page.get_by_label("Max tokens").fill("400")
    page.get_by_label("Model").select_option(label="OpenAI gpt 5-mini")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_text("Saved. They apply from the next message.")).to_be_visible()

    page.get_by_label("Message").fill("Write a long list of tips for learning python with code")
    page.get_by_label("Message").press("Enter")
    reply = page.locator(".message-assistant").last
    expect(reply).to_contain_text("OpenAI gpt 5-mini")
    expect(reply.locator(".message-body p").first).to_be_visible()  # words have arrived
    page.get_by_role("button", name="Stop").click()
    expect(reply.locator(".message-meta")).to_contain_text("Stopped")
    expect(reply.locator(".stats")).to_contain_text("Cost")  # Runware's bill still arrives
    expect(page.get_by_role("button", name="Regenerate")).to_be_visible()
