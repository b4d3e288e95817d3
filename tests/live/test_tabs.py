"""A member's open page sockets are capped across workers; a killed worker's stop counting; a cache
that is away refuses nothing."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.core.cache import cache

from runware_web.live import tabs
from runware_web.live.consumers import CLOSE_TOO_MANY_SOCKETS
from tests.conftest import make_user
from tests.hardening.helpers import ALERT, connected, drain, member_socket, receive_alert

pytestmark = pytest.mark.django_db(transaction=True)

CAP = 3


@pytest.fixture(autouse=True)
def cap(settings, monkeypatch):
    settings.MAX_SOCKETS_PER_MEMBER = CAP
    monkeypatch.setattr(tabs, "GRACE_SECONDS", 0.3)  # how long one over the cap waits for a slot


async def refusal(user: Any, path: str = "/ws/studio/") -> tuple[str, int]:
    """Open one more socket of `user`: the message it was sent and the code it was closed with."""
    ws = await member_socket(user, path)
    accepted, _ = await ws.connect(timeout=10)
    assert accepted, "refused after accepting, so that the page hears why and does not retry"
    message = await ws.receive_from(timeout=10)
    closed = await ws.receive_output(timeout=10)
    assert closed["type"] == "websocket.close"
    await ws.disconnect()
    return message, closed["code"]


async def open_sockets(user: Any, count: int) -> list[Any]:
    sockets = []
    for path in ["/ws/studio/", "/ws/chat/", "/ws/tools/"] * count:
        if len(sockets) == count:
            break
        ws = await connected(user, path)
        await drain(ws)
        sockets.append(ws)
    return sockets


async def test_one_socket_over_the_cap_is_refused_with_a_message_and_others_are_not(user, upstream):
    bob = await database_sync_to_async(make_user)("bob")
    alices = await open_sockets(user, CAP)

    message, code = await refusal(user)
    assert code == CLOSE_TOO_MANY_SOCKETS == 4429
    assert ALERT in message and f"You have too many portal tabs open (more than {CAP})" in message
    assert "Close some and reload" in message

    bobs = await open_sockets(bob, CAP)  # another member is unaffected
    for ws in alices:  # and Alice's open sockets still work
        await ws.send_to(text_data="still there?")
        assert "not JSON" in await receive_alert(ws)

    await alices.pop().disconnect()  # closing a tab lets a new one in
    alices += await open_sockets(user, 1)
    assert (await refusal(user))[1] == CLOSE_TOO_MANY_SOCKETS
    for ws in alices + bobs:
        await ws.disconnect()


async def test_a_page_that_navigates_gets_the_slot_its_old_socket_gives_back(user, upstream, monkeypatch):
    """Following a link opens the new page's socket before the old page's close reaches the server:
    the new socket waits for the slot instead of being refused."""
    monkeypatch.setattr(tabs, "GRACE_SECONDS", 10)
    sockets = await open_sockets(user, CAP)
    new_page = await member_socket(user, "/ws/studio/")
    opening = asyncio.ensure_future(new_page.connect(timeout=15))
    done, _ = await asyncio.wait({opening}, timeout=0.5)
    assert not done, "every slot is held: the new socket waits"
    await sockets.pop().disconnect()  # the old page's close arrives
    assert (await opening)[0]
    await new_page.send_to(text_data="still there?")
    assert "not JSON" in await receive_alert(new_page)  # let in, not refused
    for ws in [*sockets, new_page]:
        await ws.disconnect()


async def test_the_sockets_of_a_killed_worker_stop_counting_when_their_slots_expire(user, upstream):
    # What a worker killed with its sockets open leaves: slots nobody renews or gives back.
    for key in tabs.slot_keys(user.pk, CAP):
        assert await cache.aadd(key, "dead-worker-socket", 1)
    assert (await refusal(user))[1] == CLOSE_TOO_MANY_SOCKETS

    deadline = time.monotonic() + 10
    while await cache.aget_many(tabs.slot_keys(user.pk, CAP)):
        assert time.monotonic() < deadline, "a dead worker's slots must expire"
        await asyncio.sleep(0.1)
    (ws,) = await open_sockets(user, 1)
    await ws.send_to(text_data="still there?")
    assert "not JSON" in await receive_alert(ws)
    await ws.disconnect()


async def test_an_open_socket_keeps_its_slot_past_the_slot_lifetime(user, upstream, settings, monkeypatch):
    settings.MAX_SOCKETS_PER_MEMBER = 1
    monkeypatch.setattr(tabs, "SLOT_SECONDS", 1)  # renewed every third of a second
    (ws,) = await open_sockets(user, 1)
    assert await ws.receive_nothing(timeout=2.5, interval=0.5)  # more than twice the lifetime, renewed
    assert (await refusal(user))[1] == CLOSE_TOO_MANY_SOCKETS
    await ws.disconnect()
    assert await cache.aget(tabs.slot_keys(user.pk, 1)[0]) is None, "a closed socket gives its slot back"


async def test_with_the_cache_away_every_socket_is_let_in(user, upstream, settings, monkeypatch):
    settings.MAX_SOCKETS_PER_MEMBER = 1

    class Unreachable:
        """The cache as the sockets' counter sees it during a Redis outage."""

        def __getattr__(self, name: str) -> Any:
            async def fail(*args: Any, **kwargs: Any) -> Any:
                raise ConnectionError("Error 111 connecting to 10.0.0.7:6379. Connection refused.")
            return fail

    monkeypatch.setattr(tabs, "cache", Unreachable())
    sockets = await open_sockets(user, 2)  # twice the cap: nothing can be counted
    for ws in sockets:
        await ws.disconnect()


async def test_a_cap_of_zero_counts_nothing(user, upstream, settings):
    settings.MAX_SOCKETS_PER_MEMBER = 0
    sockets = await open_sockets(user, 4)
    for ws in sockets:
        await ws.disconnect()
    assert await cache.aget_many(tabs.slot_keys(user.pk, 4)) == {}
