"""Runware restarting in the middle of a generation, on the production layout: the upstream process
(the simulator) is killed with the task in flight and started again on the same port, at once or
after an outage. The new Runware knows neither the portal's session nor its task.

The task ends within RUNWARE_RECOVERY_TIMEOUT of the reconnect (it used to hang for the whole
RUNWARE_TIMEOUT, 600 s), the images that arrived are in the gallery with their files, the ledger
holds exactly what the old Runware charged for them, nothing is charged after the restart, and the
member reads what happened. Runs in CI's PostgreSQL + Redis pass.
"""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from runware_web.lib.money import usd
from runware_web.media.models import Image
from runware_web.money.models import Charge
from runware_web.upstream.models import Task
from tests.conftest import make_user
from tests.faults.processes import production_only, until
from tests.workers import Member

pytestmark = pytest.mark.django_db(transaction=True)

IMAGES = 4
SECONDS_PER_IMAGE = 3  # the kill comes within milliseconds of reading the balance: no image is in flight
RECOVERY_TIMEOUT = 10  # the workers' RUNWARE_RECOVERY_TIMEOUT
MARGIN = 10  # the SDK's reconnect (0.2 s backoff doubling, jitter up to 1 s each) and the last writes


@production_only
@pytest.mark.parametrize("down_for", [0, 4], ids=["restarted-at-once", "down-for-a-while"])
def test_a_task_runware_forgot_in_a_restart_ends_soon_with_what_arrived_and_what_it_cost(layout, down_for):
    make_user("alice")
    layout.env["RUNWARE_RECOVERY_TIMEOUT"] = str(RECOVERY_TIMEOUT)
    _, url = layout.start_worker()
    balance_before = layout.upstream.balance()

    alice = Member(url)
    alice.log_in("alice", "correct horse battery")
    assert alice.post("/studio/generate", {
        "positivePrompt": f"a red fox in the snow [sim:delay={SECONDS_PER_IMAGE}]", "model": "runware:101@1",
        "width": "256", "height": "256", "numberResults": str(IMAGES),
    }) == 200
    task = until(lambda: Task.objects.filter(user__username="alice").first(), seconds=20, what="the task's row")
    # Stored, not only charged: its file is fetched from the upstream about to die.
    until(lambda: Image.objects.filter(task=task).exists(), seconds=30, what="the first image")

    charged_by_the_old_upstream = balance_before - layout.upstream.balance()
    layout.upstream.kill()  # SIGKILL: every session and task is gone with it
    if down_for:
        time.sleep(down_for)  # the length of the outage: nothing to wait for
    layout.upstream.start()
    restarted_at = time.monotonic()
    fresh_balance = layout.upstream.balance()

    task = until(lambda: Task.objects.filter(pk=task.pk, finished_at__isnull=False).first(),
                 seconds=RECOVERY_TIMEOUT + MARGIN, what="the task to end")
    print(f"task ended {time.monotonic() - restarted_at:.1f} s after the restart "
          f"(down {down_for} s, RUNWARE_RECOVERY_TIMEOUT {RECOVERY_TIMEOUT} s)")

    assert task.status == Task.Status.FAILED
    images = list(Image.objects.filter(task=task))
    assert 1 <= len(images) < IMAGES
    assert all(image.file.storage.exists(image.file.name) for image in images)
    charges = list(Charge.objects.filter(task=task).values_list("amount", flat=True))
    assert len(charges) == len(images) == task.results_received
    ledger = sum(charges, Decimal(0))
    assert ledger == sum(image.cost for image in images) == task.cost  # each cost as the upstream reported it
    assert ledger == charged_by_the_old_upstream  # every cent it charged, once
    assert layout.upstream.balance() == fresh_balance  # nothing sent, or billed, again after the restart

    one = len(images) == 1
    assert task.error_message == (
        f"Runware restarted and lost this task. {len(images)} of {IMAGES} images arrived and "
        f"{'is' if one else 'are'} in your gallery; {usd(ledger)} was billed for {'it' if one else 'them'}. "
        "Try again for the rest."
    )
    assert str(layout.upstream.port) not in task.error_message
