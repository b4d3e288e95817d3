"""Budget alerts: found when charges are recorded, recorded once per threshold and period, sent by
email and to the team's webhook outside the charge's transaction, and tried again while a receiver
is down."""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
from datetime import timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core import mail
from django.db import IntegrityError, connection, transaction
from django.test import TestCase
from django.utils import timezone

from runware_web.accounts.models import Role, Team
from runware_web.lib import loops
from runware_web.money import alerts, ledger, reports
from runware_web.money.models import AlertDelivery, BudgetAlert, Charge
from runware_web.upstream.models import Task
from tests.accounts.conftest import free_port
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

_keys = itertools.count()


def record(user, amount: str, *, at=None) -> None:
    """One result of a finished task of `user`, charged through the ledger as the runner does it, in
    a transaction of its own, whose commit runs the alert check (`at`: as if charged then)."""
    task = Task.objects.create(
        user=user,
        team_id=user.team_id,
        feature="studio",
        task_type="imageInference",
        model="runware:101@1",
        params={},
        status=Task.Status.DONE,
        finished_at=timezone.now(),
    )
    # The test's own transaction never commits: run what its commit would run, as it would.
    with TestCase.captureOnCommitCallbacks(execute=at is None) as on_commit, transaction.atomic():
        ledger.record_charges([(task, f"r{next(_keys)}", Decimal(amount))])
    if at is not None:
        Charge.objects.filter(task=task).update(created_at=at)
        for callback in on_commit:
            callback()


@pytest.fixture(autouse=True)
def _checked_where_charged(monkeypatch):
    """No delivery loop of a runner started by another test is woken: the checks run as the charge
    commits, as in a process without a runner."""
    monkeypatch.setattr(alerts, "_delivery_loops", {})


def thresholds(**filters) -> list[int]:
    return sorted(BudgetAlert.objects.filter(**filters).values_list("threshold", flat=True))


def subjects() -> list[str]:
    return [message.subject for message in mail.outbox]


def test_each_threshold_is_sent_once_as_the_members_spend_crosses_it():
    alice = make_user("alice", email="alice@example.com", monthly_budget=Decimal("10"))
    record(alice, "4.00")
    assert thresholds() == []
    record(alice, "1.50")  # 55 %
    record(alice, "0.50")  # 60 %: still 50
    record(alice, "3.00")  # 90 %
    record(alice, "1.00")  # 100 %
    record(alice, "2.00")  # 120 %: nothing new
    assert thresholds(user=alice) == [50, 80, 100]
    assert alerts.deliver_due() == 3
    assert alerts.deliver_due() == 0
    assert subjects() == [f"Budget alert: alice reached {n} % of the budget" for n in (50, 80, 100)]
    assert (
        "alice reached 80 % of the monthly budget: $9.00 of $10.00 spent this month." in mail.outbox[1].body
    )
    assert [message.to for message in mail.outbox] == [["alice@example.com"]] * 3


def test_one_charge_past_two_thresholds_sends_the_higher_one_only():
    alice = make_user("alice", email="alice@example.com", monthly_budget=Decimal("10"))
    record(alice, "4.00")
    record(alice, "4.50")  # 40 % → 85 %
    assert thresholds(user=alice) == [50, 80]
    alerts.deliver_due()
    assert subjects() == ["Budget alert: alice reached 80 % of the budget"]
    record(alice, "0.10")  # 50 % is recorded: never sent late
    assert alerts.deliver_due() == 0


def test_a_new_period_sends_the_same_threshold_again(monkeypatch):
    alice = make_user("alice", email="alice@example.com", monthly_budget=Decimal("10"), budget_period="day")
    yesterday = timezone.localdate() - timedelta(days=1)
    monkeypatch.setattr(reports, "today", lambda: yesterday)
    record(alice, "8.50", at=timezone.now() - timedelta(days=1))
    monkeypatch.undo()
    record(alice, "1.00")  # today: 10 % of today's budget
    assert thresholds(user=alice) == [50, 80]
    record(alice, "8.00")  # 90 % today
    alerts_80 = BudgetAlert.objects.filter(user=alice, threshold=80).order_by("period_start")
    assert [alert.period_start for alert in alerts_80] == [yesterday, timezone.localdate()]
    alerts.deliver_due()
    assert subjects() == ["Budget alert: alice reached 80 % of the budget"] * 2


def test_the_member_hears_of_their_own_budget_and_the_team_admins_of_members_and_the_team():
    team = Team.objects.create(name="Pixels", monthly_budget=Decimal("20"))
    make_user("tess", team=team, role=Role.TEAM_ADMIN, email="tess@example.com")
    make_user("tom", team=team, role=Role.TEAM_ADMIN, email="")  # no address: nothing to send
    make_user("bob", team=team, email="bob@example.com")
    alice = make_user("alice", team=team, email="alice@example.com", monthly_budget=Decimal("10"))
    record(alice, "5.00")  # alice: 50 % of hers; the team: 25 %
    alerts.deliver_due()
    assert sorted((message.to[0], message.subject) for message in mail.outbox) == [
        ("alice@example.com", "Budget alert: alice reached 50 % of the budget"),
        ("tess@example.com", "Budget alert: alice reached 50 % of the budget"),
    ]
    mail.outbox.clear()
    record(alice, "5.00")  # alice: 100 %; the team: 50 %
    alerts.deliver_due()
    assert sorted((message.to[0], message.subject) for message in mail.outbox) == [
        ("alice@example.com", "Budget alert: alice reached 100 % of the budget"),
        ("tess@example.com", "Budget alert: alice reached 100 % of the budget"),
        ("tess@example.com", "Budget alert: team Pixels reached 50 % of the budget"),
    ]
    team_mail = next(message for message in mail.outbox if "team Pixels" in message.subject)
    assert (
        "team Pixels reached 50 % of its monthly budget: $10.00 of $20.00 spent this month." in team_mail.body
    )


def test_with_a_delivery_loop_running_the_check_is_handed_to_it_instead_of_slowing_the_charge(monkeypatch):
    loop = asyncio.new_event_loop()
    delivery = alerts.Delivery(loop, asyncio.Event())
    monkeypatch.setattr(alerts, "_delivery_loops", {loop: delivery})
    try:
        alice = make_user("alice", email="alice@example.com", monthly_budget=Decimal("10"))
        with loops.working_for(loop):  # as the runner of that loop writes its charges
            record(alice, "8.00")
        assert thresholds() == []  # not on the charge's path
        loop.run_until_complete(asyncio.wait_for(delivery.event.wait(), 5))  # the loop was woken
        [alert] = alerts.check_queued(delivery)
        assert (alert.user_id, alert.threshold) == (alice.pk, 80)
        assert alerts.check_queued(delivery) == []
    finally:
        loop.close()


def test_a_charge_of_another_loops_runner_is_checked_where_it_was_made_not_by_this_loops_delivery(monkeypatch):
    """In a process with two loops (a test's runner beside the live server's), one runner's checks
    never go to the other's delivery loop, whose thread would go on reading and writing after the
    charging runner has stopped (a test's database being emptied met that transaction)."""
    serving, other = asyncio.new_event_loop(), asyncio.new_event_loop()
    delivery = alerts.Delivery(serving, asyncio.Event())
    monkeypatch.setattr(alerts, "_delivery_loops", {serving: delivery})
    try:
        alice = make_user("alice", email="alice@example.com", monthly_budget=Decimal("10"))
        with loops.working_for(other):
            record(alice, "8.00")
        assert thresholds(user=alice) == [50, 80]  # checked as the charge committed
        assert not delivery.event.is_set() and not delivery.members  # nothing handed over
    finally:
        serving.close()
        other.close()


def test_a_stopping_delivery_loop_waits_for_its_round_under_way(monkeypatch):
    """A stopping worker leaves no budget check behind it, still writing alerts in its thread (the
    tests' database is emptied, and a deploy's migrated, right after)."""
    started, release, ended = threading.Event(), threading.Event(), threading.Event()

    def slow_round(delivery: alerts.Delivery) -> int:
        started.set()
        release.wait(10)
        ended.set()
        return 0

    monkeypatch.setattr(alerts, "_round", slow_round)

    async def stop_during_a_round() -> None:
        delivering = asyncio.create_task(alerts.deliver_forever())
        await asyncio.to_thread(started.wait, 10)
        delivering.cancel()
        done, _ = await asyncio.wait({delivering}, timeout=0.2)
        assert not done  # cancelled, but its round has not ended
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await delivering
        assert ended.is_set()

    asyncio.run(stop_during_a_round())


def test_no_budget_means_no_alert():
    alice = make_user("alice", email="alice@example.com")
    record(alice, "500")
    assert BudgetAlert.objects.count() == 0


def test_the_check_never_records_an_alert_twice_even_when_it_read_before_another_worker_wrote(monkeypatch):
    """Two workers may both find 80 % unrecorded: the database's unique constraint keeps one."""
    alice = make_user("alice", email="alice@example.com", monthly_budget=Decimal("10"))
    record(alice, "8.50")
    assert BudgetAlert.objects.filter(user=alice).count() == 2
    monkeypatch.setattr(alerts, "_recorded", lambda candidates: set())  # as if it had read before the write
    assert alerts.check([alice.pk], []) == []
    assert BudgetAlert.objects.filter(user=alice).count() == 2
    assert AlertDelivery.objects.count() == 1
    with pytest.raises(IntegrityError), transaction.atomic():
        BudgetAlert.objects.create(
            scope="member",
            user=alice,
            period="month",
            threshold=80,
            budget=10,
            spent=9,
            period_start=reports.budget_period("month").first,
        )


def test_a_failing_check_never_fails_the_charge(monkeypatch, caplog):
    def broken(*args):
        raise RuntimeError("the alert check broke")

    monkeypatch.setattr(alerts, "check", broken)
    alice = make_user("alice", email="alice@example.com", monthly_budget=Decimal("10"))
    record(alice, "9.00")
    assert reports.total(Charge.objects.filter(user=alice)) == Decimal("9.00")
    assert "the alert check broke" in caplog.text


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite runs one writing transaction at a time")
@pytest.mark.django_db(transaction=True)
def test_two_workers_recording_at_once_record_and_send_one_alert():
    """Each charge alone is 45 % of the budget; together 90 %. Both commit at once, each checks after
    its own commit: the later one sees both charges, and the constraint keeps a single 80 %."""
    alice = make_user("alice", email="alice@example.com", monthly_budget=Decimal("10"))
    start = threading.Barrier(2)
    problems = []

    def worker() -> None:
        try:
            start.wait(timeout=30)
            record(alice, "4.50")
        except Exception as exc:  # surfaced below
            problems.append(exc)
        finally:
            connection.close()

    for _ in range(3):  # three periods' worth of races: a new budget period each round
        BudgetAlert.objects.all().delete()
        Charge.objects.all().delete()
        threads = [threading.Thread(target=worker) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert problems == []
        assert thresholds(user=alice) == [50, 80]
        assert list(AlertDelivery.objects.values_list("alert__threshold", "recipient")) == [
            (80, "alice@example.com")
        ]


# ------------------------------------------------------------------------------ the webhook


class Receiver:
    """A real HTTP server on a free port that takes POSTs (answering `status`), or none yet."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hooks/T000/B000/secretsecret"
        self.posts: list[dict] = []
        self.status = 200
        self.server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.posts.append(
                    {
                        "path": self.path,
                        "type": self.headers["Content-Type"],
                        "json": json.loads(body),
                        "status": receiver.status,
                    }
                )
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()

    def taken(self) -> list[dict]:
        return [post for post in self.posts if 200 <= post["status"] < 300]


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.stop()


def test_the_webhook_gets_slack_json_and_a_receiver_that_is_down_gets_it_once_it_is_back(receiver, settings):
    settings.RUNWARE_ALERT_RETRY_SECONDS = 30
    team = Team.objects.create(name="<Pixels> & co", alert_webhook_url=receiver.url)
    alice = make_user("alice", team=team, monthly_budget=Decimal("10"))
    record(alice, "8.00")
    delivery = AlertDelivery.objects.get(channel="webhook")
    assert delivery.recipient == f"http://127.0.0.1:{receiver.port}/…cret"  # never the whole secret path

    now = timezone.now()
    assert alerts.deliver_due(now=now) == 0  # nobody listens on the port yet
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert "could not reach the receiver" in delivery.last_error and "secret" not in delivery.last_error
    assert delivery.next_attempt_at == now + timedelta(seconds=30)

    receiver.start()
    receiver.status = 503  # up, but not taking it
    assert alerts.deliver_due(now=now + timedelta(seconds=10)) == 0  # not due yet
    assert alerts.deliver_due(now=now + timedelta(seconds=31)) == 0
    delivery.refresh_from_db()
    assert (delivery.attempts, delivery.last_error) == (
        2,
        "the receiver answered HTTP 503 Service Unavailable",
    )
    assert delivery.next_attempt_at == now + timedelta(seconds=31 + 60)  # the wait doubles

    receiver.status = 200
    assert alerts.deliver_due(now=now + timedelta(seconds=100)) == 1
    assert alerts.deliver_due(now=now + timedelta(days=1)) == 0
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("sent", 3, "")
    [taken] = receiver.taken()
    assert taken["path"] == "/hooks/T000/B000/secretsecret" and taken["type"] == "application/json"
    text = taken["json"]["text"]
    assert text.startswith(
        "Budget alert: alice reached 80 % of the monthly budget: $8.00 of $10.00 spent this month."
    )
    assert taken["json"]["blocks"][0] == {"type": "section", "text": {"type": "mrkdwn", "text": text}}
    assert "team &lt;Pixels&gt; &amp; co" in taken["json"]["blocks"][1]["elements"][0]["text"]


def test_a_delivery_is_given_up_after_the_set_hours(receiver, settings):
    settings.RUNWARE_ALERT_GIVE_UP_HOURS = 1
    team = Team.objects.create(name="Pixels", monthly_budget=Decimal("10"), alert_webhook_url=receiver.url)
    alice = make_user("alice", team=team)
    record(alice, "5.00")
    assert alerts.deliver_due(now=timezone.now() + timedelta(hours=2)) == 0
    delivery = AlertDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("failed", 1)
    assert alerts.deliver_due(now=timezone.now() + timedelta(hours=3)) == 0


def test_two_workers_never_send_one_delivery_twice(receiver):
    """A claim is a conditional update: the second worker to claim a due row finds it taken."""
    receiver.start()
    team = Team.objects.create(name="Pixels", monthly_budget=Decimal("10"), alert_webhook_url=receiver.url)
    record(make_user("alice", team=team), "5.00")
    delivery = AlertDelivery.objects.get()
    now = timezone.now()
    assert alerts._claim(delivery.pk, delivery.next_attempt_at, now) is not None
    assert alerts._claim(delivery.pk, delivery.next_attempt_at, now) is None
    assert alerts.deliver_due(now=now + timedelta(seconds=1)) == 0  # claimed: not due for anyone else
    assert receiver.posts == []


def test_mail_through_a_real_smtp_server(mailbox):
    team = Team.objects.create(name="Pixels")
    make_user("tess", team=team, role=Role.TEAM_ADMIN, email="tess@example.com")
    alice = make_user("alice", team=team, email="alice@example.com", monthly_budget=Decimal("10"))
    record(alice, "8.00")
    assert alerts.deliver_due() == 2
    assert (
        mailbox.wait_for("alice@example.com")["Subject"] == "Budget alert: alice reached 80 % of the budget"
    )
    assert mailbox.wait_for("tess@example.com")["From"] == "portal@example.com"
    assert len(mailbox.messages) == 2
