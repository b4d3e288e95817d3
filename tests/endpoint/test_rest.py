"""`POST /v1` as Runware's REST API, and the signed URLs of results, seen with a plain HTTP client."""

from __future__ import annotations

import uuid

import aiohttp
import pytest
from channels.db import database_sync_to_async
from django.core import signing
from django.utils import timezone

from runware_web.endpoint import protocol
from runware_web.media.models import Image
from runware_web.upstream.models import Task
from tests.endpoint.helpers import amember_with_key, image_task

pytestmark = pytest.mark.django_db(transaction=True)


async def post(live_server_url: str, body, key: str | None = None) -> tuple[int, dict]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with aiohttp.ClientSession() as session, session.post(live_server_url + "/v1", json=body, headers=headers) as response:
        return response.status, await response.json()


async def test_a_sync_task_is_answered_with_its_results_and_an_authentication_task_works_as_the_header(live_server_url):
    _, _, plaintext = await amember_with_key()
    task_uuid = str(uuid.uuid4())
    status, body = await post(live_server_url, [{"taskType": "authentication", "apiKey": plaintext},
                                                image_task(taskUUID=task_uuid, outputType="dataURI")])
    assert status == 200
    assert body["data"][0]["taskUUID"] == task_uuid
    assert body["data"][0]["imageDataURI"].startswith("data:image/")


async def test_without_a_key_the_answer_is_401_and_nothing_runs(live_server_url):
    status, body = await post(live_server_url, [image_task(taskUUID=str(uuid.uuid4()))])
    assert status == 401 and body["errors"][0]["code"] == "invalidApiKey"
    assert await database_sync_to_async(Task.objects.count)() == 0


async def test_a_budget_refusal_is_402_and_a_bad_parameter_400(live_server_url):
    member, _, plaintext = await amember_with_key()
    status, body = await post(live_server_url, [image_task(taskUUID=str(uuid.uuid4()), model="flux")], plaintext)
    assert status == 400 and body["errors"][0]["parameter"] == "model"
    await database_sync_to_async(type(member).objects.filter(pk=member.pk).update)(monthly_budget="0")
    status, body = await post(live_server_url, [image_task(taskUUID=str(uuid.uuid4()))], plaintext)
    assert status == 402 and body["errors"][0]["code"] == "insufficientCredits"


async def test_get_response_of_an_unknown_task_is_not_found(live_server_url):
    _, _, plaintext = await amember_with_key()
    task_uuid = str(uuid.uuid4())
    status, body = await post(live_server_url, [{"taskType": "getResponse", "taskUUID": task_uuid}], plaintext)
    assert status == 404
    assert body["errors"][0]["taskUUID"] == task_uuid


async def test_another_members_image_cannot_be_used_as_an_input(live_server_url):
    _, _, alice_key = await amember_with_key("alice")
    _, _, mallory_key = await amember_with_key("mallory")
    status, body = await post(live_server_url, [image_task(taskUUID=str(uuid.uuid4()))], mallory_key)
    theirs = body["data"][0]["imageUUID"]
    status, body = await post(live_server_url, [image_task(taskUUID=str(uuid.uuid4()), seedImage=theirs)], alice_key)
    assert status == 400 and body["errors"][0]["parameter"] == "seedImage"


async def test_a_result_url_stops_working_when_tampered_with_or_trashed(live_server_url):
    _, _, plaintext = await amember_with_key()
    _, body = await post(live_server_url, [image_task(taskUUID=str(uuid.uuid4()))], plaintext)
    url = body["data"][0]["imageURL"]
    image = await database_sync_to_async(Image.objects.get)(pk=body["data"][0]["imageUUID"])
    other = str(uuid.uuid4())
    forged = signing.TimestampSigner(salt="someone else").sign(str(image.pk))
    async with aiohttp.ClientSession() as session:
        async with session.get(url) as response:
            assert response.status == 200
        async with session.get(url.replace(str(image.pk), other)) as response:
            assert response.status == 404
        async with session.get(f"{live_server_url}/v1/media/{forged}.{image.extension}") as response:
            assert response.status == 404
        await database_sync_to_async(Image.objects.filter(pk=image.pk).update)(deleted_at=timezone.now())
        async with session.get(url) as response:
            assert response.status == 404


def test_a_media_token_expires(settings, db):
    settings.ENDPOINT_MEDIA_URL_SECONDS = -1
    token = signing.TimestampSigner(salt=protocol.MEDIA_SALT).sign(str(uuid.uuid4()))
    with pytest.raises(signing.SignatureExpired):
        protocol.image_from_token(token)
