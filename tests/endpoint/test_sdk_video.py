"""Video through the endpoint, driven by the official runware-sdk 1.8.0 pointed at the portal with a
member's key: the SDK's videoInference (async delivery: an ACK with the taskUUID, then getResponse
polls) gets its video, which the Video page's handler stored in the member's library, charged once.
"""

from __future__ import annotations

import aiohttp
import pytest
from channels.db import database_sync_to_async
from runware import RunwareError

from runware_web.endpoint.models import EndpointCall
from runware_web.media.models import Image
from runware_web.upstream.models import Task
from tests.endpoint.helpers import amember_with_key, sdk, stored_result

pytestmark = pytest.mark.django_db(transaction=True)

SEEDANCE_FAST = "bytedance:seedance@2.0-fast"


def video_task(**extra) -> dict:
    return {
        "taskType": "videoInference",
        "model": SEEDANCE_FAST,
        "positivePrompt": "a lighthouse at dusk, waves",
        "duration": 4,
        "width": 864,
        "height": 480,
        **extra,
    }


@pytest.mark.parametrize("transport", ["websocket", "rest"])
async def test_the_sdks_video_inference_is_polled_to_a_video_stored_in_the_members_library(
    live_server_url, transport
):
    member, _, plaintext = await amember_with_key(key_name="video script")
    client = sdk(live_server_url, plaintext, transport=transport)
    await client.connect()
    try:
        videos = await client.run(video_task())  # the SDK's default delivery: async, polled
    finally:
        await client.close()

    assert len(videos) == 1
    video = videos[0]
    assert video["taskType"] == "videoInference" and video["videoURL"].startswith(
        live_server_url + "/v1/media/"
    )
    stored = await stored_result(member, Image.MediaType.VIDEO, video["videoUUID"], "video script", "video",
                                 "videoInference")
    call = await EndpointCall.objects.aget(task_id=stored.task_id)
    assert str(call.client_task_uuid) == video["taskUUID"]
    async with aiohttp.ClientSession() as session, session.get(video["videoURL"]) as response:
        assert response.status == 200 and response.content_type == stored.content_type
        assert len(await response.read()) == stored.size_bytes


async def test_video_with_sync_delivery_is_a_validation_error_naming_delivery_method(live_server_url):
    member, _, plaintext = await amember_with_key()
    client = sdk(live_server_url, plaintext)
    await client.connect()
    try:
        with pytest.raises(RunwareError) as refused:
            await client.run(video_task(deliveryMethod="sync"))
    finally:
        await client.close()
    assert refused.value.code == "validation" and refused.value.parameter == "deliveryMethod"
    assert not await database_sync_to_async(Task.objects.filter(user=member).exists)()
