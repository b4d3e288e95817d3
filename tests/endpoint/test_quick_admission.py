"""The one-message admission (runner.quick, PostgreSQL): a script's task admitted and written by one
message from the event loop, when SQL conditions say the full admission would admit it.

What matters to members and admins: such a task waits on one round trip; and the conditions never
admit a task the full admission would refuse (budgets of the member, the team and the key to the
last quantum, the team's model rules, the limits), so that spend never passes a budget whichever
way a task was admitted. Sound, not complete: what the conditions do not admit is weighed the
full way, whose refusals (with their reasons) are the only ones a script hears.
"""

from __future__ import annotations

import random
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from channels.db import database_sync_to_async
from django.db import connection, transaction
from django.utils import timezone

from runware_web.accounts.models import Team
from runware_web.endpoint import keys, limits, services
from runware_web.endpoint.models import ApiKey, EndpointCall
from runware_web.money.admission import admit_many, quick_condition
from runware_web.money.models import Charge
from runware_web.runner import state
from runware_web.upstream.models import Task
from tests.endpoint.helpers import MODEL, image_task, member_with_key

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif("connection.vendor != 'postgresql'", reason="the one-message admission is PostgreSQL's"),
]


class Trips:
    """Counts the admissions' messages from the event loop and the full way's trips to its thread."""

    def __init__(self, monkeypatch) -> None:
        self.quick = self.full = 0
        runner = state.current()
        send, admissions = runner.quick.database.send, runner.admissions

        async def counted_send(statements):
            self.quick += 1
            return await send(statements)

        async def counted_admissions(write_many, item, **options):
            self.full += 1
            return await admissions(write_many, item, **options)

        monkeypatch.setattr(runner.quick.database, "send", counted_send)
        monkeypatch.setattr(runner, "admissions", counted_admissions)


async def warm_up(upstream) -> None:
    """Two tasks of another member: the first admitted the full way, where the worker learns what
    such tasks cost; the second in one message, which opens the event loop's connection."""
    _, key, _ = await database_sync_to_async(member_with_key)("warm")
    key = await database_sync_to_async(keys.still_usable)(key.pk)
    assert await start(key) is None
    assert await start(key) is None
    async for task in Task.objects.filter(user__username="warm"):
        await upstream.wait(task.pk)


def start(key: ApiKey, **task):
    caller = services.Caller(key=key, base_url="http://testserver")
    return services.answer(caller, image_task(taskUUID=str(uuid.uuid4()), **task))


async def test_a_scripts_task_within_every_budget_and_rule_is_admitted_in_one_message(upstream, monkeypatch, settings):
    """A member with a budget, in a team with a budget and an allow-list naming the model's family,
    with a key that has a budget of its own and a list of task types: the task is admitted by one
    message, and recorded as the full way records it (its team, its call with the key's name)."""
    settings.RATE_LIMIT_PER_MINUTE = settings.ENDPOINT_TASKS_PER_MINUTE_PER_KEY = 100

    @database_sync_to_async
    def set_up():
        team = Team.objects.create(name="Lighthouse", monthly_budget=Decimal("50"), allowed_models="civitai:\nRunware:")
        member, key, _ = member_with_key(budget=Decimal("5"), task_types=["imageInference"])
        member.team, member.monthly_budget = team, Decimal("20")
        member.save()
        return team, member, keys.still_usable(key.pk)

    team, member, key = await set_up()
    # The worker's first task of a kind is weighed the full way: the estimate needs what recent tasks
    # cost, which the event loop does not read (the full way does, and both remember it a while).
    trips = Trips(monkeypatch)
    assert await start(key) is None  # sync delivery: the results follow
    assert (trips.quick, trips.full) == (0, 1)
    assert await start(key) is None
    assert (trips.quick, trips.full) == (1, 1)
    task = await Task.objects.filter(user=member).alatest("created_at")
    assert task.team_id == team.pk and task.feature == "endpoint" and task.estimated_cost > 0
    call = await EndpointCall.objects.aget(task=task)
    assert call.key_id == key.pk and call.key_name == "laptop script"
    async for task in Task.objects.filter(user=member):
        await upstream.wait(task.pk)


async def test_what_the_message_does_not_admit_is_weighed_the_full_way_and_refused_with_its_reason(
    upstream, monkeypatch
):
    @database_sync_to_async
    def set_up():
        member, key, _ = member_with_key()
        member.monthly_budget = Decimal("0.0000000001")
        member.save()
        return member, keys.still_usable(key.pk)

    member, key = await set_up()
    await warm_up(upstream)
    trips = Trips(monkeypatch)
    answer = await start(key)
    [error] = answer["errors"]
    assert error["code"] == "insufficientCredits" and "your monthly budget" in error["message"]
    assert (trips.quick, trips.full) == (1, 1)
    assert not await Task.objects.filter(user=member).aexists()
    assert not await EndpointCall.objects.filter(user=member).aexists()


async def test_a_reused_task_uuid_is_refused_the_full_way_and_nothing_is_written_twice(upstream, monkeypatch):
    member, key, _ = await database_sync_to_async(member_with_key)()
    key = await database_sync_to_async(keys.still_usable)(key.pk)
    label = str(uuid.uuid4())
    caller = services.Caller(key=key, base_url="http://testserver")
    assert await services.answer(caller, image_task(taskUUID=label)) is None
    trips = Trips(monkeypatch)
    answer = await services.answer(caller, image_task(taskUUID=label))
    assert answer["errors"][0]["code"] == "conflictTaskUUID"
    assert (trips.quick, trips.full) == (1, 1)
    assert await Task.objects.filter(user=member).acount() == 1
    await upstream.wait((await Task.objects.aget(user=member)).pk)


# ---------------------------------------------------------------------- the conditions never admit more


def quick_admits(condition: tuple[str, list]) -> bool:
    text, params = condition
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {text}", params)
        return cursor.fetchone()[0]


def full_admits(member, estimate: Decimal, model: str) -> bool:
    """admit_many's verdict, in a transaction rolled back."""
    with transaction.atomic():
        [refused] = admit_many(user=member, estimates=[estimate], models=[model])
        transaction.set_rollback(True)
    return refused is None


AMOUNTS = [Decimal("0"), Decimal("0.0000000001"), Decimal("0.0000000002"), Decimal("0.0012345678"),
           Decimal("0.01"), Decimal("0.3333333333"), Decimal("1")]
ALLOW_LISTS = ["", "runware:", "RUNWARE", "civitai:\nrunware:101@", " runware:101@1 , civitai:", "runware:102@1",
               "civitai", "runware:101@2", "  ,  "]


def a_world(rng: random.Random, name: str):
    """A member (perhaps in a team) and a key, with charges in and out of their periods and running
    tasks part charged, their budgets set near what is committed, so that estimates fall on either
    side of them and on them to the quantum."""
    team = None
    if rng.random() < 0.7:
        team = Team.objects.create(
            name=f"team {name}", budget_period=rng.choice(["day", "week", "month"]),
            allowed_models=rng.choice(ALLOW_LISTS),
            max_task_cost=rng.choice([None, Decimal("0.0012345678"), Decimal("0.01")]),
        )
    member, key, _ = member_with_key(name, budget_period=rng.choice(["day", "week", "month"]))
    member.team, member.budget_period = team, rng.choice(["day", "week", "month"])
    member.save()
    now = timezone.now()
    for _ in range(rng.randint(0, 4)):
        results = rng.randint(1, 4)
        received = rng.randint(0, results)
        task = Task.objects.create(
            user=member, team=team, feature="endpoint", task_type="imageInference", model=MODEL,
            number_results=results, results_received=received, estimated_cost=rng.choice(AMOUNTS[1:]),
            status=rng.choice([Task.Status.RUNNING, Task.Status.RUNNING, Task.Status.DONE, Task.Status.CANCELLED]),
            created_at=now - timedelta(seconds=rng.choice([5, 90])),
        )
        if task.status == Task.Status.DONE:
            task.finished_at = now
        EndpointCall.objects.create(task=task, user=member, key=key, key_name=key.name,
                                    client_task_uuid=uuid.uuid4(), created_at=task.created_at)
        for index in range(received):
            Charge.objects.create(
                task=task, user=member, team=team, task_type="imageInference", model=MODEL,
                result_key=f"r{index}", amount=rng.choice(AMOUNTS[1:]),
                created_at=now - rng.choice([timedelta(0), timedelta(days=3), timedelta(days=40)]),
            )
        task.cost = sum(task.charges.values_list("amount", flat=True), Decimal(0))
        task.save()
    committed = {
        "member": _committed(member), "team": _committed(team) if team else None, "key": keys.key_use(key).committed,
    }
    return member, team, key, committed


def _committed(owner) -> Decimal:
    from runware_web.money.reports import member_budget_use, team_budget_use

    return (team_budget_use(owner) if isinstance(owner, Team) else member_budget_use(owner)).committed


ROOM = Decimal("0.001")  # a budget's room left after the task, far from the quantum


def near(rng: random.Random, committed: Decimal, estimate: Decimal, edges: list[bool]) -> Decimal | None:
    """A budget for which this estimate fits with room, fits to the quantum, or just does not (or
    none); whether it is an edge (within a few quanta) is added to `edges`."""
    if rng.random() < 0.25:
        edges.append(False)
        return None
    margin = rng.choice([Decimal("-0.0000000002"), Decimal("-0.0000000001"), Decimal(0), Decimal("0.0000000001"),
                         ROOM, ROOM])
    edges.append(margin != ROOM)
    return committed + estimate + margin


def test_the_conditions_never_admit_what_the_full_admission_refuses(settings):
    """Random members, teams and keys with budgets set to the quantum around what they have
    committed, or with room: whatever the message's conditions admit, the full admission admits
    too; and they admit everything it admits but at the edges (a budget met to within a few
    quanta, an allow-list of separators only), so that they are worth sending."""
    settings.RATE_LIMIT_PER_MINUTE = 3
    settings.ENDPOINT_TASKS_PER_MINUTE_PER_KEY = 3
    rng = random.Random(20261206)
    admitted_full = 0
    for number in range(80):
        member, team, key, committed = a_world(rng, f"member{number}")
        estimate = rng.choice(AMOUNTS[1:])
        model = rng.choice([MODEL, "runware:102@1", "civitai:4384@1"])
        edges: list[bool] = [team is not None and team.allowed_models == "  ,  "]
        member.monthly_budget = near(rng, committed["member"], estimate, edges)
        member.save()
        if team is not None:
            team.monthly_budget = near(rng, committed["team"], estimate, edges)
            team.save()
        key.budget = near(rng, committed["key"], estimate, edges)
        key.save()

        quick = quick_admits(quick_condition(member.pk, estimate, model)) and quick_admits(
            ApiKey.objects.quick_condition(key.pk, user_id=member.pk, task_type="imageInference", model=model,
                                           estimate=estimate, client_task_uuid=uuid.uuid4()))
        member.refresh_from_db()
        fresh_key = keys.still_usable(key.pk)
        full = (
            full_admits(member, estimate, model) and fresh_key is not None
            and keys.key_refusal(fresh_key, estimate) is None and limits.task_rate_refusal(fresh_key) is None
        )
        assert full or not quick, (
            f"world {number}: the message would admit a task the full admission refuses "
            f"(estimate {estimate}, model {model}, budgets {member.monthly_budget} / "
            f"{team.monthly_budget if team else '-'} / {key.budget}, committed {committed}, "
            f"allow-list {team.allowed_models if team else '-'!r})"
        )
        if full and not any(edges):
            assert quick, f"world {number}: the message would not admit a task with room in every budget"
            admitted_full += 1
    assert admitted_full >= 10, "too few worlds with room were admitted: the test would show little"


# ---------------------------------------------------------------------- a connection lost with the message


@pytest.mark.parametrize("committed", [True, False], ids=["after-the-commit", "before-anything"])
async def test_a_connection_lost_with_the_message_neither_loses_the_task_nor_writes_it_twice(
    upstream, monkeypatch, committed
):
    """The event loop's connection fails with the message out: committed or not, the script's task is
    written once and started, and the next task finds a new connection."""
    import psycopg

    member, key, _ = await database_sync_to_async(member_with_key)()
    key = await database_sync_to_async(keys.still_usable)(key.pk)
    await warm_up(upstream)
    quick = state.current().quick
    send = quick.database.send
    lost: list[bool] = []

    async def send_and_lose(statements):
        if not lost:
            lost.append(True)
            if committed:
                await send(statements)
            await quick.database.close()
            raise psycopg.OperationalError("server closed the connection unexpectedly")
        return await send(statements)

    monkeypatch.setattr(quick.database, "send", send_and_lose)
    trips = Trips(monkeypatch)
    assert await start(key) is None
    assert lost and trips.full == (0 if committed else 1)
    [task] = [task async for task in Task.objects.filter(user=member)]
    assert await EndpointCall.objects.filter(task=task).acount() == 1
    await upstream.wait(task.pk)
    assert (await Task.objects.aget(pk=task.pk)).status == Task.Status.DONE

    quick.resting_until = 0  # the rest after a failure, over
    assert await start(key) is None
    assert (trips.quick, trips.full) == (2, 0 if committed else 1)  # the second in one message, on a new connection
    assert await Task.objects.filter(user=member).acount() == 2
    async for task in Task.objects.filter(user=member):
        await upstream.wait(task.pk)


async def test_behind_a_pooler_that_forgets_prepared_statements_the_statements_go_whole(upstream, monkeypatch):
    """A pooler hands the next transaction another server connection, where what was prepared is
    unknown: that message fails and its task is weighed the full way; the next ones go in one
    message again, their statements sent whole."""
    member, key, _ = await database_sync_to_async(member_with_key)()
    key = await database_sync_to_async(keys.still_usable)(key.pk)
    await warm_up(upstream)
    quick = state.current().quick
    assert quick.database.prepared, "the warm-up's message prepared nothing"
    await quick.database.raw.execute("DEALLOCATE ALL")  # as a pooler's next server connection knows none
    trips = Trips(monkeypatch)
    assert await start(key) is None
    assert (trips.quick, trips.full) == (1, 1) and not quick.database.prepares
    quick.resting_until = 0
    assert await start(key) is None
    assert (trips.quick, trips.full) == (2, 1) and not quick.database.prepared
    assert await Task.objects.filter(user=member).acount() == 2
    async for task in Task.objects.filter(user=member):
        await upstream.wait(task.pk)


async def test_hostile_text_in_a_task_is_stored_as_typed_not_run(upstream, monkeypatch):
    """Quotes, a percent sign, a statement's end and a comment in a prompt: the task is written by the
    one message with its prompt exactly as the script sent it, and the tables are all still there."""
    member, key, _ = await database_sync_to_async(member_with_key)()
    key = await database_sync_to_async(keys.still_usable)(key.pk)
    await warm_up(upstream)
    trips = Trips(monkeypatch)
    prompt = "it's 100% a ‘lighthouse’ %s %%s $1 \\'; DROP TABLE upstream_task; -- \"quoted\" \x7f"
    assert await start(key, positivePrompt=prompt) is None
    assert (trips.quick, trips.full) == (1, 0)
    task = await Task.objects.aget(user=member)
    assert task.params["positivePrompt"] == prompt
    await upstream.wait(task.pk)
    assert await Task.objects.acount() == 3  # the warm-up's two and this one
