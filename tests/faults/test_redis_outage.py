"""Redis is a dependency the portal survives: stopped mid-task, nothing billed is lost, pages keep
answering and say live updates are paused, /healthz says what is down, and when Redis is back the
health check recovers, open tabs catch up and new sockets get live updates again.

Each test starts a Redis server of its own on a free port (never the machine's shared one), points
the channel layer and the cache at it, and stops it by its pid. Runs in CI's second pass (REDIS_URL
set), where the Redis set-up is the one under test.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from decimal import Decimal

import pytest
import redis
from channels.layers import channel_layers
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings
from django.db.models import Sum
from django.http import HttpResponse
from django.test import AsyncClient

from runware_web.lib.outages import CACHE, CHANNEL_LAYER
from runware_web.media.models import Image
from runware_web.money.models import Charge
from runware_web.upstream.errors import from_sdk
from runware_web.upstream.models import Task
from tests.faults.processes import REDIS_SERVER, PrivateRedis
from tests.hardening.helpers import connected, receive_until

pytestmark = pytest.mark.django_db(transaction=True)
needs_redis = pytest.mark.skipif(not django_settings.REDIS_URL or not REDIS_SERVER,
                                 reason="the Redis set-up (CI's second pass) and a redis-server to start")

GENERATE = {"action": "generate", "model": "runware:101@1", "width": "256", "height": "256", "steps": "4",
            "outputFormat": "PNG", "positivePrompt": "a lighthouse in a storm"}
PAGES = ["/studio/", "/gallery/", "/history/"]
PAUSED = "Live updates are paused"
RESULTS = 'id="results-list"'


@pytest.fixture
def private_redis(settings) -> Iterator[PrivateRedis]:
    """The channel layer and the cache in a Redis of this test's own, as production sets them."""
    server = PrivateRedis()
    server.start()
    settings.CHANNEL_LAYERS = {"default": {
        "BACKEND": "runware_web.live.layer.OutageTolerantLayer",
        "CONFIG": {"hosts": [{"address": server.url, "socket_timeout": 15}], "expiry": 30},
    }}
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": server.url,
                                   "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2}}}
    channel_layers.backends = {}
    try:
        yield server
    finally:
        server.stop()
        channel_layers.backends = {}
        CACHE.down_since = CHANNEL_LAYER.down_since = None


async def until(condition: Callable[[], Awaitable[bool]], timeout: float = 20) -> None:
    async def poll() -> None:
        while not await condition():
            await asyncio.sleep(0.05)

    await asyncio.wait_for(poll(), timeout)


def ledger(task: Task) -> tuple[int, Decimal]:
    charges = Charge.objects.filter(task=task)
    return charges.count(), charges.aggregate(total=Sum("amount"))["total"] or Decimal(0)


async def logged_in(user) -> AsyncClient:
    client = AsyncClient()
    await client.aforce_login(user)
    return client


async def connected_with_state(user) -> WebsocketCommunicator:
    """A studio tab, once it has its state (sent after the runner has started)."""
    ws = await connected(user, "/ws/studio/")
    await receive_until(ws, lambda frame: RESULTS in frame)
    return ws


async def healthz(client: AsyncClient) -> HttpResponse:
    return await client.get("/healthz")


@needs_redis
async def test_redis_stopping_mid_task_loses_nothing_and_pages_say_live_updates_are_paused(
        user, upstream, simulator, private_redis):
    simulator.set_latency(0.4)  # 4 images, one every 0.4 s: Redis stops between two of them
    client = await logged_in(user)
    ws = await connected_with_state(user)
    await ws.send_json_to({**GENERATE, "numberResults": "4"})
    await until(lambda: Image.objects.filter(task__user=user).aexists())
    task = await Task.objects.filter(user=user).alatest("created_at")

    private_redis.stop()
    await upstream.wait(task.pk)

    # Every image Runware billed is saved and charged, and the task ends done.
    await task.arefresh_from_db()
    assert task.status == Task.Status.DONE
    assert await Image.objects.filter(task=task).acount() == 4
    count, total = await asyncio.to_thread(ledger, task)
    assert count == 4 and total == task.cost > 0

    # Pages answer, say live updates are paused, and do not blame Runware.
    for path in PAGES:
        page = await client.get(path)
        assert page.status_code == 200, path
        assert PAUSED in page.content.decode(), path
        assert "Runware cannot be reached" not in page.content.decode(), path

    # The health check names what is down, and no internal address.
    health = await healthz(client)
    assert health.status_code == 503
    assert set(health.json()["down"]) == {"channel_layer", "cache"}
    assert health.json()["checks"]["database"]["ok"] is True
    assert str(private_redis.port) not in health.content.decode()
    assert "127.0.0.1" not in health.content.decode()

    # A tab opened now still gets its socket and the page's state (from the database).
    late = await connected_with_state(user)
    assert await late.receive_nothing(timeout=0.2)

    # Redis comes back: healthy again, the notice goes, and the tab that stayed open catches up.
    await asyncio.to_thread(private_redis.start)
    await until(lambda: _healthy(client))
    assert PAUSED not in (await client.get("/gallery/")).content.decode()
    caught_up = await receive_until(ws, lambda frame: RESULTS in frame and f"gen-{task.pk}" in frame)
    assert caught_up.count("<img") >= 4


async def _healthy(client: AsyncClient) -> bool:
    return (await healthz(client)).status_code == 200


@needs_redis
async def test_a_new_socket_gets_live_updates_once_an_emptied_redis_is_back(user, upstream, private_redis):
    private_redis.stop()
    await asyncio.to_thread(private_redis.start)  # restarted empty: every group was forgotten

    ws = await connected_with_state(user)
    await ws.send_json_to({**GENERATE, "numberResults": "1"})
    frame = await receive_until(ws, lambda f: 'id="slot-' in f and "<img" in f)
    assert "a lighthouse in a storm" in frame


def test_a_redis_error_inside_a_task_is_not_blamed_on_runware_and_shows_no_address():
    error = from_sdk(redis.ConnectionError("Error 111 connecting to 10.0.3.7:6379. Connection refused."))
    assert "Runware" not in error.full_message
    assert "10.0.3.7" not in error.full_message and "6379" not in error.full_message
    assert error.code == "internal"
