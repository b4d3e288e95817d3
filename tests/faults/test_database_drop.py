"""PostgreSQL drops the workers' connections (pg_terminate_backend, as a failover, a restart or an
idle-connection reaper does), on the production layout: PostgreSQL, Redis and two Daphne workers.

Dropped in the middle of a generation, twice, the task still ends done with every image and its
file, and the ledger equals what Runware charged, to the last decimal. Dropped while the workers are
idle, the next page, the next socket, the lease renewal and a new generation all work. Only the
workers' connections to this run's test database are dropped, never another database's, and the
server runs on.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from decimal import Decimal

import pytest
from django.db import connection
from websockets.sync.client import connect

from runware_web.media.models import Image
from runware_web.money.models import Charge
from runware_web.upstream.models import Task, Worker
from tests.conftest import make_user
from tests.faults.processes import LEASE_SECONDS, production_only, until
from tests.workers import Member

pytestmark = pytest.mark.django_db(transaction=True)

IMAGES = 4
SECONDS_PER_IMAGE = 2
GENERATE = {"model": "runware:101@1", "width": "256", "height": "256"}


# The workers name themselves to PostgreSQL (libpq reads PGAPPNAME), so that only theirs are dropped:
# the test process's own pooled connections serve the tests that come after this one.
WORKERS = "runware-web-fault-worker"


def drop_connections() -> int:
    """Terminate the workers' connections to this run's test database; how many."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = %s",
            [WORKERS],
        )
        return cursor.fetchone()[0]


def charges(task: Task) -> int:
    return Charge.objects.filter(task=task).count()


def page(member: Member, path: str) -> tuple[int, str]:
    """A page as the member's browser gets it: its status and its text."""
    try:
        with member.opener.open(member.base + path, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


def socket_state(member: Member, path: str = "/ws/studio/") -> str:
    """The first frame a new studio tab gets: the page's state, read from the database."""
    cookie = "; ".join(f"{c.name}={c.value}" for c in member.cookies)
    with connect(member.base.replace("http", "ws", 1) + path, open_timeout=30,
                 additional_headers={"Cookie": cookie, "Origin": member.base}) as ws:
        return str(ws.recv(timeout=30))


def assert_complete(task: Task, *, images: int, charged_upstream: Decimal) -> None:
    """Done, every image stored with its file, and the ledger what Runware charged."""
    assert task.status == Task.Status.DONE, task.error_message
    stored = list(Image.objects.filter(task=task))
    assert len(stored) == images
    assert all(image.file.storage.exists(image.file.name) for image in stored)
    charged = sum(Charge.objects.filter(task=task).values_list("amount", flat=True), Decimal(0))
    assert charged == charged_upstream  # every cent Runware charged, once
    assert task.cost == charged
    assert task.results_received == images


@production_only
def test_dropped_database_connections_lose_no_task_image_or_cent_and_pages_answer_after(layout):
    make_user("alice")
    layout.env["PGAPPNAME"] = WORKERS
    _, first_url = layout.start_worker()
    _, second_url = layout.start_worker()
    alice = Member(first_url)
    alice.log_in("alice", "correct horse battery")
    balance_before = layout.upstream.balance()

    # Mid-task: after the first image, and again after the third.
    assert alice.post("/studio/generate", {
        **GENERATE, "positivePrompt": f"a red fox in the snow [sim:delay={SECONDS_PER_IMAGE}]",
        "numberResults": str(IMAGES),
    }) == 200
    task = until(lambda: Task.objects.filter(user__username="alice").first(), seconds=20, what="the task's row")
    until(lambda: charges(task) >= 1, seconds=30, what="the first image")
    dropped_at = time.monotonic()
    assert drop_connections() > 0
    until(lambda: charges(task) >= 3, seconds=IMAGES * SECONDS_PER_IMAGE + 30, what="the third image")
    assert drop_connections() > 0
    task = until(lambda: Task.objects.filter(pk=task.pk, finished_at__isnull=False).first(),
                 seconds=IMAGES * SECONDS_PER_IMAGE + 30, what="the task to end")
    print(f"task ended {time.monotonic() - dropped_at:.1f} s after the first drop "
          f"({IMAGES} images, {SECONDS_PER_IMAGE} s each)")
    assert_complete(task, images=IMAGES, charged_upstream=balance_before - layout.upstream.balance())

    # Idle: every worker's connections dropped while nothing runs.
    leases = dict(Worker.objects.values_list("id", "last_seen"))
    assert drop_connections() > 0
    idle_dropped_at = time.monotonic()
    for base in (first_url, second_url):  # the next page and the next socket, on each worker
        alice.base = base
        status, html = page(alice, "/studio/")
        assert status == 200, html[-2000:]
        assert "Traceback" not in html
        assert 'id="results-list"' in socket_state(alice)
    print(f"pages and sockets answered {time.monotonic() - idle_dropped_at:.1f} s after an idle drop")

    # Each worker renews its lease (so nobody adopts its tasks) and still runs a new generation.
    until(lambda: all(seen > leases[worker] for worker, seen in Worker.objects.filter(
        id__in=leases, stopped_at__isnull=True).values_list("id", "last_seen")),
        seconds=LEASE_SECONDS * 2, what="every worker to renew its lease")
    balance_before = layout.upstream.balance()
    assert alice.post("/studio/generate", {**GENERATE, "positivePrompt": "a heron at dawn", "numberResults": "2"}) == 200
    fresh = until(lambda: Task.objects.filter(user__username="alice", finished_at__isnull=False)
                  .exclude(pk=task.pk).first(), seconds=30, what="the new generation to end")
    assert_complete(fresh, images=2, charged_upstream=balance_before - layout.upstream.balance())
