"""A member with a key, and the official runware-sdk pointed at the portal's live server."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from channels.db import database_sync_to_async
from runware import Runware

from runware_web.endpoint import keys
from runware_web.endpoint.models import EndpointCall
from runware_web.media.models import Image
from runware_web.money.models import Charge
from runware_web.upstream.models import Task
from tests.conftest import make_user

MODEL = "runware:101@1"


PING = json.dumps([{"taskType": "ping", "ping": True}])
PONG = {"data": [{"taskType": "ping", "pong": True}]}


async def answers_and_pong(receive: Callable[[], Awaitable[str]], expected: int) -> list[dict[str, Any]]:
    """The answers to a frame sent before a ping, and the ping's pong (which proves the socket
    still answers): tasks are answered concurrently, a ping at once, so the pong may come first;
    every answer is waited for. `receive` reads the next frame's text, with a timeout."""
    answers, ponged = [], False
    while not ponged or len(answers) < expected:
        answer = json.loads(await receive())
        if answer == PONG and not ponged:
            ponged = True
        else:
            answers.append(answer)
    return answers


def image_task(**extra: Any) -> dict[str, Any]:
    return {"taskType": "imageInference", "model": MODEL, "positivePrompt": "a lighthouse at dusk",
            "width": 512, "height": 512, "steps": 4, "deliveryMethod": "sync", **extra}


def member_with_key(username: str = "alice", *, key_name: str = "laptop script", **key_options: Any):
    """A member and the plaintext of a new key of theirs (made the way the keys page makes it)."""
    member = make_user(username)
    key, plaintext = keys.create_key(member, name=key_name, **key_options)
    return member, key, plaintext


amember_with_key = database_sync_to_async(member_with_key)


def sdk(live_server_url: str, api_key: str, **config: Any) -> Runware:
    """The official SDK, unchanged, talking to the portal instead of Runware."""
    ws = live_server_url.replace("http://", "ws://") + "/v1"
    return Runware(api_key=api_key, ws_base_url=ws, http_base_url=live_server_url + "/v1",
                   max_retries=0, retry_delay=50, **config)


async def eventually(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Poll a database condition until it holds (results are stored by the server's thread)."""
    deadline = time.monotonic() + timeout
    while True:
        value = await database_sync_to_async(check)()
        if value or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.05)


async def stored_result(member, media_type: str, item_uuid: str, key_name: str, feature: str, task_type: str) -> Image:
    """The result in the member's library, from the feature's task (ended), charged once, marked with
    the key."""
    stored = await eventually(lambda: Image.objects.filter(user=member, media_type=media_type).first())
    assert stored is not None and item_uuid == str(stored.pk)
    # The result is handed on (and stored) before its task is ended: that follows.
    task = await eventually(lambda: Task.objects.filter(user=member, status=Task.Status.DONE).first())
    assert task is not None and (task.feature, task.task_type) == (feature, task_type)
    assert stored.task_id == task.pk
    assert await Charge.objects.filter(task=task).acount() == 1
    call = await EndpointCall.objects.aget(task=task)
    assert call.key_name == key_name
    return stored
