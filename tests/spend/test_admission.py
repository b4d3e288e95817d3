"""Budgets and the rate limit hold before a task is sent, also when many arrive at once."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from channels.db import database_sync_to_async
from django.db import close_old_connections, connection
from django.test.utils import CaptureQueriesContext

from runware_web.accounts.models import Team
from runware_web.money import prices as pricing
from runware_web.money.admission import admit_many
from runware_web.money.models import Charge
from runware_web.runner.admit import admit_and_create, admit_and_create_many
from runware_web.upstream.errors import Refused
from runware_web.upstream.models import Task
from tests.conftest import acreate_user, make_user

pytestmark = pytest.mark.django_db(transaction=True)

MODEL = "runware:101@1"
# A banner whose price has five decimals, so that budgets of whole multiples of it fit the
# budgets' four decimals ($0.0005 + $0.0001 per megapixel-step: 0.512 MP × 25 steps).
PARAMS = {"model": MODEL, "positivePrompt": "a red kite over the dunes", "width": 1600, "height": 320, "steps": 25}
# What the simulator charges for one such image (its documented price table).
KNOWN_COST = pricing.table_price("imageInference", PARAMS)


async def submit(runner, user, *, estimate: Decimal = KNOWN_COST, params: dict = PARAMS) -> Task:
    return await runner.submit(user=user, feature="spend-test", task_type="imageInference", params=params,
                               number_results=1, estimated_cost=estimate)


@database_sync_to_async
def ledger_total(**filters) -> Decimal:
    return sum(Charge.objects.filter(**filters).values_list("amount", flat=True), Decimal(0))


@database_sync_to_async
def make_team(name: str, budget: str | None) -> Team:
    return Team.objects.create(name=name, monthly_budget=Decimal(budget) if budget else None)


async def test_the_known_cost_is_what_the_simulator_charges(upstream):
    alice = await acreate_user("alice")
    task = await submit(upstream, alice)
    await upstream.wait(task.pk)
    assert Decimal("0.00178") == KNOWN_COST
    assert await ledger_total(task=task) == KNOWN_COST


async def test_a_task_over_the_members_budget_is_refused_saying_what_remains(upstream):
    alice = await acreate_user("alice", monthly_budget=Decimal("0.002"))
    first = await submit(upstream, alice)
    await upstream.wait(first.pk)
    with pytest.raises(Refused) as refused:
        await submit(upstream, alice)
    message = refused.value.message
    assert "your monthly budget of $0.002" in message
    assert "$0.00022 remains" in message
    assert "estimated at $0.00178." in message
    assert await database_sync_to_async(Task.objects.filter(user=alice).count)() == 1  # nothing was sent


async def test_the_default_budget_caps_members_without_one_of_their_own(upstream, settings):
    settings.DEFAULT_USER_BUDGET = Decimal("0.002")
    alice = await acreate_user("alice")
    first = await submit(upstream, alice)
    await upstream.wait(first.pk)
    with pytest.raises(Refused) as refused:
        await submit(upstream, alice)
    assert "your monthly budget of $0.002" in refused.value.message


async def test_a_task_over_the_teams_budget_is_refused_naming_the_team(upstream):
    team = await make_team("Pixels", "0.002")
    alice = await acreate_user("alice", team=team)
    bob = await acreate_user("bob", team=team)
    task = await submit(upstream, alice)
    await upstream.wait(task.pk)
    with pytest.raises(Refused) as refused:
        await submit(upstream, bob)  # bob has spent nothing, but the team has
    assert "team Pixels's monthly budget of $0.002" in refused.value.message
    assert "$0.00022 remains" in refused.value.message


async def test_running_tasks_hold_their_estimate_until_the_real_cost_replaces_it(upstream, simulator):
    alice = await acreate_user("alice", monthly_budget=KNOWN_COST * 5)
    held = await database_sync_to_async(Task.objects.create)(
        user=alice, feature="spend-test", task_type="imageInference", model=MODEL, params=PARAMS,
        status=Task.Status.RUNNING, estimated_cost=KNOWN_COST * 5,
    )
    with pytest.raises(Refused):
        await submit(upstream, alice)  # the running task's estimate fills the budget

    @database_sync_to_async
    def finish_cheaper() -> None:
        Task.objects.filter(pk=held.pk).update(status=Task.Status.DONE, cost=KNOWN_COST * 4,
                                               finished_at=held.created_at)
        Charge.objects.create(task=held, user=alice, task_type="imageInference", model=MODEL,
                              result_key="#0", amount=KNOWN_COST * 4)

    await finish_cheaper()  # it cost less than its estimate: the rest is free again
    task = await submit(upstream, alice)
    await upstream.wait(task.pk)
    assert await ledger_total(user=alice) == KNOWN_COST * 5 == alice.monthly_budget
    with pytest.raises(Refused):
        await submit(upstream, alice)


async def test_the_rate_limit_refuses_with_a_clear_message(upstream, settings):
    settings.RATE_LIMIT_PER_MINUTE = 2
    alice = await acreate_user("alice")
    bob = await acreate_user("bob")
    for _ in range(2):
        await submit(upstream, alice)
    with pytest.raises(Refused) as refused:
        await submit(upstream, alice)
    assert "the limit is 2 a minute" in refused.value.message
    assert "Try again in" in refused.value.message
    await submit(upstream, bob)  # the limit is per member


@pytest.mark.parametrize("capped", [False, True])
def test_only_a_capped_members_admission_sums_the_ledger(capped):
    """Every task is admitted, and a member's month of charges can be long: a member without a
    budget (nor a team budget) is admitted without reading any of it."""
    alice = make_user("alice", monthly_budget=KNOWN_COST * 10 if capped else None)
    with CaptureQueriesContext(connection) as queries:
        task = admit_and_create(
            user=alice, feature="spend-test", task_type="imageInference", params=PARAMS,
            number_results=1, estimated_cost=KNOWN_COST, delivery="sync",
        )
    assert isinstance(task, Task)
    read_ledger = any(Charge._meta.db_table in query["sql"] for query in queries.captured_queries)
    assert read_ledger is capped


def test_admission_refuses_to_run_outside_a_transaction():
    """Atomicity is not optional: admission checks that it runs inside the tasks' transaction."""
    alice = make_user("alice")
    assert not connection.in_atomic_block
    with pytest.raises(RuntimeError, match="inside the transaction"):
        admit_many(user=alice, estimates=[KNOWN_COST])


async def wait_all(runner, tasks: list[Task]) -> None:
    await asyncio.gather(*(runner.wait(task.pk) for task in tasks))


async def test_thirty_submissions_at_once_admit_ten_and_never_overspend(upstream):
    """30 admissions race for a budget of exactly 10 tasks, each in its own thread and connection
    (as 30 portal workers would), all released at the same instant."""
    alice = await acreate_user("alice", monthly_budget=KNOWN_COST * 10)
    start = threading.Barrier(30)

    def admit_one() -> Task | Refused:
        try:
            start.wait(timeout=30)
            return admit_and_create(
                user=alice, feature="spend-test", task_type="imageInference", params=PARAMS,
                number_results=1, estimated_cost=KNOWN_COST, delivery="sync",
                # Owned by this live worker, as a submit's are: a task of no worker is an orphan, and
                # the runner's periodic scan would adopt and end it in the middle of the race.
                worker=upstream.worker_id,
            )
        except Refused as refused:
            return refused
        finally:
            close_old_connections()
            connection.close()

    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(max_workers=30) as pool:
        outcomes = await asyncio.gather(*(loop.run_in_executor(pool, admit_one) for _ in range(30)))

    admitted = [outcome for outcome in outcomes if isinstance(outcome, Task)]
    refused = [outcome for outcome in outcomes if isinstance(outcome, Refused)]
    assert len(admitted) == 10 and len(refused) == 20
    assert all("your monthly budget" in refusal.message for refusal in refused)

    for task in admitted:
        upstream.start(task)
    await wait_all(upstream, admitted)
    assert await ledger_total(user=alice) == KNOWN_COST * 10 == alice.monthly_budget


async def test_thirty_concurrent_submits_through_the_runner_never_overspend(upstream):
    """The same race through the runner's own entry point, as 30 sockets of one worker would."""
    team = await make_team("Pixels", None)
    alice = await acreate_user("alice", team=team, monthly_budget=KNOWN_COST * 10)
    outcomes = await asyncio.gather(*(submit(upstream, alice) for _ in range(30)), return_exceptions=True)
    admitted = [outcome for outcome in outcomes if isinstance(outcome, Task)]
    assert len(admitted) == 10
    assert all(isinstance(outcome, Refused) for outcome in outcomes if not isinstance(outcome, Task))
    await wait_all(upstream, admitted)
    assert await ledger_total(user=alice) == KNOWN_COST * 10


async def test_thirty_generate_requests_over_studio_sockets_admit_ten(upstream, settings):
    """The same race as members cause it: 30 studio sockets send Generate at the same moment."""
    settings.MAX_SOCKETS_PER_MEMBER = 0  # 30 tabs of one member: more than the cap (tests/live/test_tabs.py)
    from channels.routing import URLRouter
    from channels.testing import WebsocketCommunicator

    from runware_web.studio.routing import websocket_urlpatterns

    alice = await acreate_user("alice", monthly_budget=KNOWN_COST * 10)
    sockets = []
    for _ in range(30):
        ws = WebsocketCommunicator(URLRouter(websocket_urlpatterns), "/ws/studio/")
        ws.scope["user"] = alice
        assert (await ws.connect())[0]
        await ws.receive_from(timeout=10)  # the state every page gets on connecting
        sockets.append(ws)
    generate = {"action": "generate", "model": MODEL, "positivePrompt": PARAMS["positivePrompt"],
                "width": "1600", "height": "320", "steps": "25", "numberResults": "1", "outputFormat": "JPG"}

    await asyncio.gather(*(ws.send_json_to(generate) for ws in sockets))

    async def answer(ws) -> str:
        """What the sender itself is told (other tabs' new cards arrive on every socket)."""
        while True:
            frame = await ws.receive_from(timeout=20)
            if 'id="generate-feedback"' in frame:
                return frame

    answers = await asyncio.gather(*(answer(ws) for ws in sockets))
    refused = [frame for frame in answers if "your monthly budget" in frame]
    assert len(refused) == 20
    assert all('role="alert"' in frame and "remains" in frame for frame in refused)

    tasks = await database_sync_to_async(lambda: list(Task.objects.filter(user=alice)))()
    assert len(tasks) == 10
    await wait_all(upstream, tasks)
    assert await ledger_total(user=alice) == KNOWN_COST * 10 == alice.monthly_budget
    for ws in sockets:
        await ws.disconnect()


def test_teammates_admitted_in_one_trip_share_their_teams_budget():
    """A group commit admits several members in one transaction: the second teammate's admission
    counts what the first was just admitted against the team's budget."""
    from django.db import transaction

    team = Team.objects.create(name="Pixels", monthly_budget=KNOWN_COST * 5)
    alice, bob, carol = (make_user(name, team=team) for name in ("alice", "bob", "carol"))
    outsider = make_user("dave")

    def request(user) -> dict:
        return {"user": user, "feature": "spend-test", "task_type": "imageInference", "params": PARAMS,
                "number_results": 1, "estimated_cost": KNOWN_COST, "delivery": "sync"}

    with transaction.atomic():
        outcomes = admit_and_create_many([
            request(user) for user in (alice, outsider, bob, alice, carol, outsider, bob, carol)
        ])

    admitted = [isinstance(outcome, Task) for outcome in outcomes]
    assert admitted == [True, True, True, True, True, True, True, False]  # carol's second is the sixth
    assert "team Pixels's monthly budget" in outcomes[7].message
    assert Task.objects.filter(team=team).count() == 5


def test_a_member_moved_to_another_team_spends_the_new_teams_budget_from_their_next_task():
    """A script's socket holds its member as they were when it authenticated: admission reads the
    team afresh, so the task counts against the team the member is in now, and its budget holds."""
    old, new = Team.objects.create(name="Old"), Team.objects.create(name="New", monthly_budget=KNOWN_COST)
    alice = make_user("alice", team=old)
    type(alice).objects.filter(pk=alice.pk).update(team=new)  # an administrator moves her; `alice` is stale
    request = {"user": alice, "feature": "spend-test", "task_type": "imageInference", "params": PARAMS,
               "number_results": 1, "estimated_cost": KNOWN_COST, "delivery": "sync"}

    first = admit_and_create(**request)
    with pytest.raises(Refused, match="team New's monthly budget"):
        admit_and_create(**request)
    assert Task.objects.get(pk=first.pk).team == new and not Task.objects.filter(team=old).exists()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite runs one writing transaction at a time")
def test_two_workers_admitting_the_same_members_in_opposite_orders_never_deadlock():
    """A group commit admits several members in one transaction. Two workers whose trips carry
    the same teammates in opposite orders must not lock them in a cycle (PostgreSQL would abort
    one trip with "deadlock detected" and its members would see an error instead of a task)."""
    from django.db import transaction

    team = Team.objects.create(name="Pixels", monthly_budget=KNOWN_COST * 100)
    members = [make_user(name, team=team, monthly_budget=KNOWN_COST * 100) for name in ("alice", "bob", "carol")]

    def request(user) -> dict:
        return {"user": user, "feature": "spend-test", "task_type": "imageInference", "params": PARAMS,
                "number_results": 1, "estimated_cost": KNOWN_COST, "delivery": "sync"}

    def trip(order: list, start: threading.Barrier) -> list:
        try:
            start.wait(timeout=30)
            with transaction.atomic():
                return admit_and_create_many([request(user) for user in order])
        finally:
            connection.close()

    for _ in range(3):
        start = threading.Barrier(2)
        with ThreadPoolExecutor(max_workers=2) as pool:
            forward = pool.submit(trip, members, start)
            backward = pool.submit(trip, members[::-1], start)
            outcomes = forward.result(timeout=60) + backward.result(timeout=60)
        assert all(isinstance(outcome, Task) for outcome in outcomes), outcomes
    assert Task.objects.filter(team=team).count() == 3 * 6
