"""A task's EndpointCall, the key's budget hold and its rate check are written inside the runner's
admission transaction: two tasks of one key admitted together, which its budget covers only one
at a time, give one task (with its row and its charge) and one `quota` refusal that leaves nothing
behind, neither a Task row nor an EndpointCall."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal

import pytest
from channels.db import database_sync_to_async

from runware_web.endpoint import keys, services
from runware_web.endpoint.models import ApiKey, EndpointCall
from runware_web.money.models import Charge
from runware_web.money.prices import estimate
from runware_web.upstream.models import Task
from tests.endpoint.helpers import amember_with_key, image_task

pytestmark = pytest.mark.django_db(transaction=True)


async def test_two_tasks_admitted_together_over_the_keys_budget_leave_one_task_and_one_refusal(upstream):
    member, key, _ = await amember_with_key(budget=Decimal("1"))
    params = {name: value for name, value in image_task().items() if name not in services.CONTROL_KEYS}
    one = await database_sync_to_async(estimate)("imageInference", params, 1)
    # Enough for one task at a time: each passes the checks alone (nothing runs yet), not both together.
    await ApiKey.objects.filter(pk=key.pk).aupdate(budget=one * Decimal("1.5"))
    fresh = await database_sync_to_async(keys.still_usable)(key.pk)

    def caller() -> services.Caller:
        return services.Caller(key=fresh, base_url="http://testserver")

    labels = [str(uuid.uuid4()), str(uuid.uuid4())]
    answers = await asyncio.gather(
        *(services.answer(caller(), image_task(taskUUID=label)) for label in labels)
    )

    refusals = [answer for answer in answers if answer is not None]
    assert len(refusals) == 1, answers
    [error] = refusals[0]["errors"]
    assert error["code"] == "insufficientCredits" and "laptop script" in error["message"]  # the key's budget
    refused_label = error["taskUUID"]
    assert refused_label in labels
    [task] = [task async for task in Task.objects.filter(user=member)]
    await upstream.wait(task.pk)
    call = await EndpointCall.objects.aget(user=member)
    assert str(call.client_task_uuid) != refused_label and call.task_id == task.pk
    task = await Task.objects.aget(pk=task.pk)
    assert task.status == Task.Status.DONE
    assert await Charge.objects.filter(task__user=member).acount() == 1
