"""In Chromium: a socket closed for a message too big, or for one tab too many, says why on the page."""

from __future__ import annotations

import time

import pytest
from django.core.cache import cache
from playwright.sync_api import expect

from runware_web.live import tabs
from runware_web.live.server import MAX_FRAME_BYTES
from tests.browser import log_in
from tests.conftest import make_user
from tests.studio.helpers import PROMPT

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Counts the page's socket openings, so a test can tell a reconnection from the first connection, and
# keeps the codes its sockets were closed with.
COUNT_OPENS = """document.addEventListener("htmx:wsOpen", () => { window.socketOpens = (window.socketOpens || 0) + 1; });
document.addEventListener("htmx:wsClose", event => { (window.closeCodes = window.closeCodes || []).push(event.detail.event.code); });"""


def count_opens(page) -> None:
    page.context.add_init_script(COUNT_OPENS)


def open_studio(page) -> None:
    page.goto("/studio/")
    page.wait_for_function("() => window.socketOpens >= 1")


def generate(page, prompt: str) -> None:
    page.get_by_label("Prompt", exact=True).fill(prompt)
    page.get_by_label("Width").fill("256")
    page.get_by_label("Height").fill("256")
    page.get_by_label("Number of images").fill("1")
    page.get_by_role("button", name="Generate", exact=True).click()


def held_slots(member_id: int) -> int:
    return len(cache.get_many(tabs.slot_keys(member_id, 1)))


def test_a_message_too_big_is_explained_and_the_page_reconnects(page):
    make_user("alice")
    count_opens(page)
    log_in(page, "alice")
    open_studio(page)

    # No field of the page takes that much (the prompt stops at 3000 characters); a script can: the
    # next message the form sends gets a field that size.
    page.evaluate("""size => document.addEventListener("htmx:wsConfigSend", event => {
      event.detail.parameters.pasted = "x".repeat(size);
    }, {once: true})""", MAX_FRAME_BYTES)
    generate(page, PROMPT)
    toast = page.locator("#toasts [role=alert]")
    expect(toast).to_have_text(
        "That message was too large (over 256 KB). Upload images through the upload field; the page reconnects."
    )
    page.wait_for_function("() => window.socketOpens >= 2")  # reconnected by the page
    assert page.evaluate("window.closeCodes") == [1009]  # Message Too Big, from the server

    generate(page, PROMPT)  # and the reconnected socket works
    expect(page.get_by_role("region", name="Results").get_by_role("img", name=PROMPT)).to_have_count(1)


def test_one_tab_too_many_is_told_so_and_a_closed_tab_makes_room(page, settings):
    settings.MAX_SOCKETS_PER_MEMBER = 1
    alice = make_user("alice")
    count_opens(page)
    log_in(page, "alice")
    open_studio(page)
    deadline = time.monotonic() + 10
    while held_slots(alice.pk) != 1:  # the socket of the page before the studio is given back
        assert time.monotonic() < deadline
        page.wait_for_timeout(50)

    second = page.context.new_page()
    open_studio(second)
    expect(second.locator("#toasts [role=alert]")).to_have_text(
        "You have too many portal tabs open (more than 1). Close some and reload this page."
    )

    page.close()
    while held_slots(alice.pk) != 0:
        assert time.monotonic() < deadline
        second.wait_for_timeout(50)
    open_studio(second)
    generate(second, PROMPT)
    expect(second.get_by_role("region", name="Results").get_by_role("img", name=PROMPT)).to_have_count(1)
    expect(second.locator("#toasts [role=alert]")).to_have_count(0)


def test_a_message_many_times_the_limit_is_closed_with_1009_too(page):
    """Not a dropped connection (1006, which says nothing): the server stops reading the message at its
    header and closes the socket with 1009 while the page is still sending it."""
    make_user("alice")
    count_opens(page)
    log_in(page, "alice")
    open_studio(page)
    page.evaluate("""size => document.addEventListener("htmx:wsConfigSend", event => {
      event.detail.parameters.pasted = "x".repeat(size);
    }, {once: true})""", 2 * 1024 * 1024)
    generate(page, PROMPT)
    expect(page.locator("#toasts [role=alert]")).to_have_text(
        "That message was too large (over 256 KB). Upload images through the upload field; the page reconnects."
    )
    page.wait_for_function("() => window.socketOpens >= 2")  # reconnected by the page
    assert page.evaluate("window.closeCodes") == [1009]
    generate(page, PROMPT)
    expect(page.get_by_role("region", name="Results").get_by_role("img", name=PROMPT)).to_have_count(1)
