"""A worker killed (kill -9) in the middle of a generation, on the production layout: PostgreSQL,
Redis and two Daphne worker processes, with and without the killed worker restarted at once.

The surviving (or restarted) worker takes the task over once the dead worker's lease runs out:
the task ends, every image is in the gallery with its file, and the ledger equals what Runware
(here the session's simulator) charged, to the last decimal. Runs in CI's PostgreSQL + Redis pass.
"""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from runware_web.media.models import Image
from runware_web.money.models import Charge
from runware_web.upstream.models import Task
from tests.conftest import make_user
from tests.faults.processes import LEASE_SECONDS, production_only, until
from tests.workers import Member, free_port, manage, start_worker, stuck, wait_for_port, worker_env

pytestmark = pytest.mark.django_db(transaction=True)

IMAGES = 4
SECONDS_PER_IMAGE = 2


@production_only
@pytest.mark.parametrize("restarted", [False, True], ids=["survivor-takes-over", "restarted-at-once"])
def test_a_task_of_a_killed_worker_ends_with_every_image_and_every_cent(layout, restarted):
    make_user("alice")
    doomed, doomed_url = layout.start_worker()
    survivor = None if restarted else layout.start_worker()[0]
    balance_before = layout.upstream.balance()

    alice = Member(doomed_url)
    alice.log_in("alice", "correct horse battery")
    assert alice.post("/studio/generate", {
        "positivePrompt": f"a red fox in the snow [sim:delay={SECONDS_PER_IMAGE}]", "model": "runware:101@1",
        "width": "256", "height": "256", "numberResults": str(IMAGES),
    }) == 200
    task = until(lambda: Task.objects.filter(user__username="alice").first(), seconds=20, what="the task's row")
    until(lambda: Charge.objects.filter(task=task).exists(), seconds=30, what="the first image")

    killed_at = time.monotonic()
    doomed.kill()  # SIGKILL: no clean stop, no hand-over
    doomed.wait(timeout=10)
    if restarted:
        layout.start_worker(int(doomed_url.rsplit(":", 1)[1]))  # systemd's restart, on the same port
    assert survivor is None or survivor.poll() is None

    recovery = LEASE_SECONDS + IMAGES * SECONDS_PER_IMAGE + 30
    task = until(lambda: Task.objects.filter(pk=task.pk, finished_at__isnull=False).first(),
                 seconds=recovery, what="the task to end")
    print(f"task ended {time.monotonic() - killed_at:.1f} s after the kill (lease {LEASE_SECONDS} s)")

    assert task.status == Task.Status.DONE, task.error_message
    images = list(Image.objects.filter(task=task))
    assert len(images) == IMAGES
    assert all(image.file.storage.exists(image.file.name) for image in images)
    charged = sum(Charge.objects.filter(task=task).values_list("amount", flat=True), Decimal(0))
    assert charged == balance_before - layout.upstream.balance()  # every cent Runware charged, once
    assert task.cost == charged
    assert task.results_received == IMAGES


def test_a_worker_that_serves_nobody_yet_holds_a_lease_at_once(simulator, tmp_path):
    """A worker just (re)started by systemd has no socket yet: it must still take part, renewing
    its lease and looking for dead workers' tasks, from the moment Daphne runs it."""
    import sqlite3

    env = worker_env(simulator, drop=("DATABASE_URL", "REDIS_URL"), RUNWARE_WEB_DATA_DIR=str(tmp_path),
                     RUNWARE_LEASE_SECONDS=str(LEASE_SECONDS))
    manage(env, "migrate", "-v0")
    port = free_port()
    process = start_worker(env, port)
    try:
        wait_for_port(port, process)

        def lease_renewals() -> list[str]:
            with sqlite3.connect(tmp_path / "db.sqlite3") as db:
                return [row[0] for row in db.execute("SELECT last_seen FROM upstream_worker")]

        first = until(lease_renewals, seconds=20, what="the worker's lease")
        until(lambda: lease_renewals() != first, seconds=LEASE_SECONDS * 3, what="the lease to be renewed")
    finally:
        process.terminate()
        assert not stuck(process)
