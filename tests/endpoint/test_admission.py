"""A task's EndpointCall, the key's budget hold and its rate check are written inside the runner's
admission transaction: two tasks of one key admitted together, which its budget covers only one
at a time, give one task (with its row and its charge) and one `quota` refusal that leaves nothing
behind, neither a Task row nor an EndpointCall."""

from __future__ import annotations

import asyncio
import itertools
import tempfile
import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from channels.db import database_sync_to_async
from django.db import IntegrityError, connection, connections
from psycopg import pq

from runware_web.endpoint import keys, services
from runware_web.endpoint.models import ApiKey, EndpointCall
from runware_web.money.models import Charge
from runware_web.money.prices import estimate
from runware_web.runner.admit import admit_and_create_many
from runware_web.runner.batching import _trip_in_thread, _write_trip
from runware_web.runner.workers import WORKER_ID
from runware_web.upstream.errors import Refused
from runware_web.upstream.models import Task
from tests.conftest import make_user
from tests.endpoint.helpers import amember_with_key, image_task, member_with_key

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


def endpoint_request(caller: services.Caller, client_uuid: uuid.UUID) -> dict:
    """An endpoint task's admission request, as services.start hands it to the runner."""
    return {
        "worker": WORKER_ID, "user": caller.key.user, "feature": services.FEATURE, "task_type": "imageInference",
        "params": {"model": "runware:101@1", "positivePrompt": "a kite", "width": 512, "height": 512},
        "number_results": 1, "estimated_cost": Decimal("0.002"), "delivery": "sync",
        "record_with": lambda task: services.record_call(task, caller, client_uuid, "URL"),
        "read_ahead": lambda: keys.read_ahead(caller.key.pk),
    }


@pytest.mark.parametrize("tasks_per_minute", [0, 60])
def test_a_task_uuid_used_twice_in_one_admission_trip_refuses_only_that_task(settings, tasks_per_minute):
    """Admissions go in one pipelined transaction (on PostgreSQL an insert's error arrives with a later
    statement's answer: the key's count of recent tasks, or without a rate limit, the trip's end):
    the duplicate's conflict reaches that task alone, and the other tasks of the trip, of the same
    key and of another member, are admitted with their rows."""
    settings.ENDPOINT_TASKS_PER_MINUTE_PER_KEY = tasks_per_minute
    alice, key, _ = member_with_key("alice")
    bob = member_with_key("bob")[0]
    caller = services.Caller(key=keys.still_usable(key.pk), base_url="http://testserver")
    used, other = uuid.uuid4(), uuid.uuid4()
    plain = {**endpoint_request(caller, other), "user": bob, "feature": "studio", "record_with": None,
             "read_ahead": None}

    outcomes = _write_trip([(admit_and_create_many, endpoint_request(caller, used)), (admit_and_create_many, plain),
                            (admit_and_create_many, endpoint_request(caller, other)),
                            (admit_and_create_many, endpoint_request(caller, used))], pipelined=True)

    assert [type(outcome) for outcome in outcomes] == [Task, Task, Task, IntegrityError]
    assert sorted(EndpointCall.objects.values_list("client_task_uuid", flat=True)) == sorted([used, other])
    assert set(Task.objects.values_list("pk", flat=True)) == {outcome.pk for outcome in outcomes[:3]}
    assert Task.objects.filter(user=alice).count() == 2 and Task.objects.filter(user=bob).count() == 1


def test_a_keys_tasks_admitted_in_one_trip_count_toward_its_rate_limit_one_after_the_other(settings):
    """The key's count of recent tasks is read once per admission trip: the tasks admitted before
    in the same trip count too, so that a script starting several at once at its limit gets only
    what the limit allows, and the refused one leaves no row."""
    settings.ENDPOINT_TASKS_PER_MINUTE_PER_KEY = 3
    alice, key, _ = member_with_key("alice")
    caller = services.Caller(key=keys.still_usable(key.pk), base_url="http://testserver")
    [earlier] = _write_trip([(admit_and_create_many, endpoint_request(caller, uuid.uuid4()))], pipelined=True)
    assert isinstance(earlier, Task)

    outcomes = _write_trip([(admit_and_create_many, endpoint_request(caller, uuid.uuid4())) for _ in range(3)],
                           pipelined=True)

    assert [type(outcome) for outcome in outcomes] == [Task, Task, Refused]
    assert outcomes[2].code == "rateLimit" and "has started 3 tasks in the last minute" in outcomes[2].message
    assert EndpointCall.objects.filter(key=key).count() == 3 == Task.objects.filter(user=alice).count()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite answers in-process: no round trips")
@pytest.mark.parametrize("tasks_per_minute", [0, 60])
def test_an_endpoint_tasks_admission_waits_on_postgresql_twice_with_or_without_the_keys_rate_limit(
    settings, tasks_per_minute
):
    """What a script's every task waits on before it is sent: BEGIN, the member's lock, the key's
    read and, with a per-key rate limit, the key's count of recent tasks, in one message; then the
    task's and its call's rows with COMMIT, in another. Each wait is a round trip to PostgreSQL
    (counted in libpq's trace); each message sent, a time the admission's thread lets go of the
    interpreter's lock, which a busy worker may be slow to give back."""
    settings.ENDPOINT_TASKS_PER_MINUTE_PER_KEY = tasks_per_minute
    _, key, _ = member_with_key("alice")
    caller = services.Caller(key=keys.still_usable(key.pk), base_url="http://testserver")

    def admit() -> None:
        [outcome] = _trip_in_thread([(admit_and_create_many, endpoint_request(caller, uuid.uuid4()))],
                                    pipelined=True)
        assert isinstance(outcome, Task)

    admit()  # the connection is open and checked: what every later task meets
    with tempfile.TemporaryFile("w+") as trace:
        connection.connection.pgconn.trace(trace.fileno())
        connection.connection.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)
        try:
            admit()
        finally:
            connection.connection.pgconn.untrace()
        trace.seek(0)
        messages = trace.read()

    sides = [line[0] for line in messages.splitlines() if line[:1] in ("F", "B")]  # F: sent, B: answered
    assert sum(1 for pair in itertools.pairwise(sides) if pair == ("F", "B")) == 2, messages
    assert sides.count("F") == 2, messages
    assert EndpointCall.objects.filter(key=key).count() == 2


def test_a_task_refused_before_its_key_is_read_leaves_the_database_free_for_other_writers():
    """The key's read is sent with the member's lock, and a task refused by the member's budget
    never reads it: it must not be left open (on SQLite, an unread statement holds its read lock,
    and every other worker's write would wait for it, then fail with "database is locked")."""
    alice, key, _ = member_with_key("alice")
    type(alice).objects.filter(pk=alice.pk).update(monthly_budget=Decimal("0.001"))
    caller = services.Caller(key=keys.still_usable(key.pk), base_url="http://testserver")

    [outcome] = _trip_in_thread([(admit_and_create_many, endpoint_request(caller, uuid.uuid4()))], pipelined=True)

    assert isinstance(outcome, Refused) and "your monthly budget" in outcome.message
    with ThreadPoolExecutor(max_workers=1) as other_worker:
        try:
            assert other_worker.submit(lambda: make_user("bob").username).result(timeout=60) == "bob"
        finally:
            other_worker.submit(connections.close_all).result()
    assert not Task.objects.filter(user=alice).exists()
