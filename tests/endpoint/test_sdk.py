"""The official runware-sdk 1.8.0, pointed at the portal with a member's key, works unchanged.

Every test drives the real SDK against the portal served by Daphne (in a thread of the test
process, sharing its database), which relays to the project's Runware simulator.
"""

from __future__ import annotations

from decimal import Decimal

import aiohttp
import pytest
from channels.db import database_sync_to_async
from django.utils import timezone
from runware import RunwareError

from runware_web.endpoint.models import ApiKey, EndpointCall
from runware_web.media.models import Image
from runware_web.money.models import Charge
from runware_web.upstream.models import Task
from tests.endpoint.helpers import amember_with_key, eventually, image_task, sdk

pytestmark = pytest.mark.django_db(transaction=True)


async def finished(member) -> dict:
    """What the portal recorded for the member, once their tasks have ended (the end is written
    just after the last result is pushed)."""
    await eventually(lambda: not Task.objects.filter(user=member, status="running").exists())
    return await database_sync_to_async(recorded)(member)


def recorded(member):
    tasks = list(Task.objects.filter(user=member))
    return {
        "tasks": [(task.feature, task.status, task.results_received) for task in tasks],
        "calls": list(EndpointCall.objects.filter(user=member).values_list("key_name", flat=True)),
        "charges": Charge.objects.filter(user=member).count(),
        "images": list(Image.objects.filter(user=member).values_list("task__feature", flat=True)),
    }


async def test_a_generation_through_the_sdk_is_recorded_like_one_from_the_studio(live_server_url):
    member, key, plaintext = await amember_with_key(key_name="nightly batch")
    async with sdk(live_server_url, plaintext) as client:
        results = await client.run(image_task(numberResults=2))

    assert len(results) == 2
    assert len({item["imageUUID"] for item in results}) == 2
    seen = await finished(member)
    assert seen["tasks"] == [("endpoint", "done", 2)]
    assert seen["calls"] == ["nightly batch"]
    assert seen["charges"] == 2
    assert seen["images"] == ["endpoint", "endpoint"]
    # The imageUUID is the member's gallery image, and its URL (the portal's own) serves the file.
    gallery = await database_sync_to_async(lambda: {str(pk) for pk in Image.objects.filter(user=member).values_list("pk", flat=True)})()
    assert {item["imageUUID"] for item in results} == gallery
    assert all(item["imageURL"].startswith(live_server_url + "/v1/media/") for item in results)
    assert all(item["cost"] > 0 for item in results)
    async with aiohttp.ClientSession() as session, session.get(results[0]["imageURL"]) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("image/")
        assert len(await response.read()) > 100


async def test_the_sdks_default_async_delivery_is_acknowledged_then_polled(live_server_url):
    member, _, plaintext = await amember_with_key()
    task = image_task()
    del task["deliveryMethod"]  # run() asks for async delivery by default, then polls getResponse
    async with sdk(live_server_url, plaintext) as client:
        results = await client.run(task)
    assert len(results) == 1 and results[0]["imageURL"]
    seen = await finished(member)
    assert seen["tasks"] == [("endpoint", "done", 1)]


async def test_the_rest_transport_runs_the_same_task(live_server_url):
    member, _, plaintext = await amember_with_key()
    async with sdk(live_server_url, plaintext, transport="rest") as client:
        results = await client.run(image_task())
    assert len(results) == 1 and results[0]["imageUUID"]
    seen = await finished(member)
    assert seen["tasks"] == [("endpoint", "done", 1)] and seen["charges"] == 1


@pytest.mark.parametrize("transport", ["websocket", "rest"])
async def test_an_unknown_key_is_an_auth_error_and_nothing_is_started(live_server_url, transport):
    member, _, plaintext = await amember_with_key()
    with pytest.raises(RunwareError) as refused:
        async with sdk(live_server_url, plaintext[:-4] + "xxxx", transport=transport) as client:
            await client.run(image_task())
    assert refused.value.code == "auth"
    assert await database_sync_to_async(Task.objects.count)() == 0


async def test_a_revoked_key_is_refused_even_on_a_socket_opened_before(live_server_url):
    member, key, plaintext = await amember_with_key()
    async with sdk(live_server_url, plaintext) as client:
        await client.run(image_task())
        await database_sync_to_async(ApiKey.objects.filter(pk=key.pk).update)(revoked_at=timezone.now())
        with pytest.raises(RunwareError) as refused:
            await client.run(image_task())
    assert refused.value.code == "auth"
    assert await database_sync_to_async(Task.objects.filter(user=member).count)() == 1
    with pytest.raises(RunwareError) as again:
        async with sdk(live_server_url, plaintext) as client:
            await client.run(image_task())
    assert again.value.code == "auth"


async def test_a_task_over_the_members_budget_is_a_quota_error(live_server_url):
    member, _, plaintext = await amember_with_key()
    await database_sync_to_async(type(member).objects.filter(pk=member.pk).update)(monthly_budget="0.0001")
    with pytest.raises(RunwareError) as refused:
        async with sdk(live_server_url, plaintext) as client:
            await client.run(image_task())
    assert refused.value.code == "quota"
    assert "budget" in refused.value.message
    assert await database_sync_to_async(Task.objects.count)() == 0


async def test_a_task_over_the_keys_own_budget_is_a_quota_error_naming_the_key(live_server_url):
    member, _, plaintext = await amember_with_key(key_name="tiny", budget=Decimal("0.0001"))
    with pytest.raises(RunwareError) as refused:
        async with sdk(live_server_url, plaintext) as client:
            await client.run(image_task())
    assert refused.value.code == "quota"
    assert "tiny" in refused.value.message
    assert await database_sync_to_async(Task.objects.count)() == 0


async def test_a_model_outside_the_keys_models_is_a_validation_error_naming_model(live_server_url):
    member, _, plaintext = await amember_with_key(models=["runware:100@1"])
    with pytest.raises(RunwareError) as refused:
        async with sdk(live_server_url, plaintext) as client:
            await client.run(image_task())
    assert refused.value.code == "validation"
    assert refused.value.parameter == "model"
    assert await database_sync_to_async(Task.objects.count)() == 0


async def test_a_model_outside_the_teams_rules_is_a_validation_error_naming_model(live_server_url):
    from runware_web.accounts.models import Team

    member, _, plaintext = await amember_with_key()
    team = await Team.objects.acreate(name="Rules", allowed_models="runware:100@1")
    await database_sync_to_async(type(member).objects.filter(pk=member.pk).update)(team=team)
    with pytest.raises(RunwareError) as refused:
        async with sdk(live_server_url, plaintext) as client:
            await client.run(image_task())
    assert refused.value.code == "validation"
    assert refused.value.parameter == "model"
    assert "runware:100@1" in refused.value.message
    assert await database_sync_to_async(Task.objects.count)() == 0


async def test_a_key_narrowed_while_its_socket_is_open_refuses_the_next_task_naming_model(live_server_url):
    member, key, plaintext = await amember_with_key()
    async with sdk(live_server_url, plaintext) as client:
        await client.run(image_task())
        await database_sync_to_async(ApiKey.objects.filter(pk=key.pk).update)(allowed_models=["runware:100@1"])
        with pytest.raises(RunwareError) as refused:
            await client.run(image_task())
    assert refused.value.code == "validation"
    assert refused.value.parameter == "model"
    assert [status for _, status, _ in (await finished(member))["tasks"]] == ["done"]


async def test_a_bad_parameter_is_a_validation_error_naming_it(live_server_url):
    member, _, plaintext = await amember_with_key()
    with pytest.raises(RunwareError) as refused:
        async with sdk(live_server_url, plaintext) as client:
            await client.run(image_task(numberResults=0))
    assert refused.value.code == "validation"
    assert refused.value.parameter == "numberResults"


async def test_account_details_report_the_members_remaining_budget_not_the_runware_balance(live_server_url):
    member, _, plaintext = await amember_with_key()
    await database_sync_to_async(type(member).objects.filter(pk=member.pk).update)(monthly_budget="5")
    async with sdk(live_server_url, plaintext) as client:
        details = await client.account_management({"operation": "getDetails"})
    assert details[0]["balance"] == 5.0
    assert details[0]["budgets"]["member"]["remaining"] == 5.0
