"""Per-key limits: open connections and tasks a minute, refused as Runware would refuse them."""

from __future__ import annotations

import uuid

import aiohttp
import pytest
from channels.db import database_sync_to_async
from django.core.cache import cache
from runware import RunwareError

from runware_web.endpoint import keys, limits
from runware_web.upstream.models import Task
from tests.endpoint.helpers import amember_with_key, eventually, image_task, sdk

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_connection_over_the_keys_limit_is_refused_and_a_closed_one_frees_its_place(live_server_url, settings):
    settings.ENDPOINT_MAX_CONNECTIONS_PER_KEY = 2
    member, key, plaintext = await amember_with_key(key_name="crawler")
    first, second = sdk(live_server_url, plaintext), sdk(live_server_url, plaintext)
    await first.connect()
    await second.connect()
    try:
        with pytest.raises(RunwareError) as refused:
            async with sdk(live_server_url, plaintext) as third:
                await third.run(image_task())
        assert "crawler" in refused.value.message and "2 connections open" in refused.value.message
        assert await database_sync_to_async(Task.objects.count)() == 0

        # Another key of the same member has places of its own.
        _, other = await database_sync_to_async(keys.create_key)(member, name="other")
        async with sdk(live_server_url, other) as client:
            assert len(await client.run(image_task())) == 1
    finally:
        await second.close()
    # The server hears of the close just after the client: wait until the place is given back.
    assert await eventually(lambda: len(cache.get_many(limits.slot_keys(key.pk, 2))) < 2)
    async with sdk(live_server_url, plaintext) as client:
        assert len(await client.run(image_task())) == 1
    await first.close()


@pytest.mark.parametrize("transport", ["websocket", "rest"])
async def test_tasks_over_the_keys_limit_a_minute_are_a_rate_limit_error(live_server_url, settings, transport):
    settings.ENDPOINT_TASKS_PER_MINUTE_PER_KEY = 2
    member, _, plaintext = await amember_with_key(key_name="loop")
    async with sdk(live_server_url, plaintext, transport=transport) as client:
        await client.run(image_task())
        await client.run(image_task())
        with pytest.raises(RunwareError) as refused:
            await client.run(image_task())
    assert refused.value.code == "rateLimit"
    assert "loop" in refused.value.message and "2 a minute" in refused.value.message
    assert await database_sync_to_async(Task.objects.filter(user=member).count)() == 2
    # The results reached the script before the server had stored them: let it finish, so that the
    # test's database teardown does not race its writes.
    assert await eventually(lambda: Task.objects.filter(user=member, finished_at__isnull=False).count() == 2)


async def test_the_rate_limit_is_429_over_http_and_free_tasks_are_not_counted(live_server_url, settings):
    settings.ENDPOINT_TASKS_PER_MINUTE_PER_KEY = 1
    _, _, plaintext = await amember_with_key()
    headers = {"Authorization": f"Bearer {plaintext}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        for _ in range(3):  # account details cost nothing and start no task
            async with session.post(live_server_url + "/v1", json=[
                {"taskType": "accountManagement", "taskUUID": str(uuid.uuid4()), "operation": "getDetails"}
            ]) as response:
                assert response.status == 200
        async with session.post(live_server_url + "/v1", json=[image_task(taskUUID=str(uuid.uuid4()))]) as response:
            assert response.status == 200
        async with session.post(live_server_url + "/v1", json=[image_task(taskUUID=str(uuid.uuid4()))]) as response:
            body = await response.json()
            assert response.status == 429
    assert body["errors"][0]["code"] == "rateLimitExceeded"
