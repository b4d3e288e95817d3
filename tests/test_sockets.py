"""Every WebSocket needs a logged-in member and an Origin of our own."""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from runware_web.accounts.models import User
from runware_web.asgi import application
from tests.conftest import make_user

SOCKETS = ["/ws/studio/", "/ws/chat/", "/ws/tools/", "/ws/spend/"]


@database_sync_to_async
def session_cookie(username: str = "alice", **extra) -> str:
    client = Client()
    client.force_login(make_user(username, **extra))
    return f"sessionid={client.cookies['sessionid'].value}"


def communicator(path: str, *, origin: str | None = "http://testserver", cookie: str = "") -> WebsocketCommunicator:
    headers = []
    if origin:
        headers.append((b"origin", origin.encode()))
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    return WebsocketCommunicator(application, path, headers=headers)


async def receive_alert(ws: WebsocketCommunicator) -> str:
    """The next error fragment, skipping whatever state the page was sent on connect."""
    while True:
        frame = await ws.receive_from(timeout=5)
        if 'role="alert"' in frame:
            return frame


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", SOCKETS)
async def test_an_anonymous_socket_is_refused(path):
    ws = communicator(path)
    connected, _ = await ws.connect()
    assert not connected
    await ws.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", ["/ws/studio/", "/ws/chat/", "/ws/tools/"])
async def test_a_member_with_our_origin_is_let_in(path, upstream):
    ws = communicator(path, cookie=await session_cookie())
    connected, _ = await ws.connect()
    assert connected
    await ws.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_foreign_origin_is_refused_even_with_a_valid_session():
    ws = communicator("/ws/studio/", origin="https://evil.example", cookie=await session_cookie())
    connected, _ = await ws.connect()
    assert not connected
    await ws.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_socket_without_origin_is_refused():
    ws = communicator("/ws/studio/", origin=None, cookie=await session_cookie())
    connected, _ = await ws.connect()
    assert not connected
    await ws.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "frame, message",
    [
        ("this is not json", "not JSON"),
        ("[1, 2, 3]", "expected an object"),
        ('{"action": "no_such_thing"}', "Unknown action"),
        ('{"action": "__class__"}', "Unknown action"),
    ],
)
async def test_garbage_gets_an_error_and_the_socket_stays_open(frame, message, upstream):
    ws = communicator("/ws/studio/", cookie=await session_cookie())
    assert (await ws.connect())[0]
    await ws.send_to(text_data=frame)
    reply = await receive_alert(ws)
    assert message in reply
    await ws.send_to(text_data="still there?")
    assert "not JSON" in await receive_alert(ws)
    await ws.disconnect()


@pytest.mark.skipif(not settings.REDIS_URL, reason="only the Redis channel layer reads from a socket that can time out")
@pytest.mark.django_db(transaction=True)
async def test_a_tab_left_idle_on_the_redis_layer_still_gets_updates():
    """channels_redis waits for messages with a blocking read of `brpop_timeout` seconds; redis-py 8
    gives up on any read after 5 s by default, which killed every idle consumer at about 5 s. The
    layer's socket timeout must outlast the blocking read."""
    from channels_redis.core import RedisChannelLayer

    from runware_web.runner import publish

    cookie = await session_cookie()
    ws = communicator("/ws/studio/", cookie=cookie)
    assert (await ws.connect())[0]
    await ws.receive_from(timeout=10)  # the state every page gets on connecting
    member = await database_sync_to_async(lambda: User.objects.get(username="alice"))()

    # Idle for longer than one blocking read (receive_nothing leaves the consumer running).
    assert await ws.receive_nothing(timeout=RedisChannelLayer.brpop_timeout + 1.5, interval=0.5)
    await publish(member.pk, "studio", "idle-check", '<div id="idle-check">still here</div>')

    assert "still here" in await ws.receive_from(timeout=10)
    await ws.disconnect()


@pytest.mark.skipif(not settings.REDIS_URL, reason="only the Redis channel layer shares one inbox per worker")
async def test_a_worker_that_falls_behind_loses_no_update_on_the_redis_layer():
    """channels_redis keeps every socket of a worker in one Redis inbox and silently drops group
    messages beyond that inbox's capacity: 20 members' sockets (each in its member's group) with 60
    updates each waiting must all get every update once the worker catches up."""
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    channels = [await layer.new_channel() for _ in range(20)]
    for member, channel in enumerate(channels):
        await layer.group_add(f"user.{member}", channel)
    for number in range(60):
        for member in range(len(channels)):
            await layer.group_send(f"user.{member}", {"type": "task.update", "number": number})

    for channel in channels:
        received = [(await asyncio.wait_for(layer.receive(channel), 10))["number"] for _ in range(60)]
        assert received == list(range(60))
    await layer.flush()
