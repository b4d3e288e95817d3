"""Redis stopped in the middle of a generation and started again (empty), on the production layout:
two Daphne worker processes share the test's own Redis for the channel layer and the cache.

While Redis is away the task goes on and every image is saved (saving never depends on the push),
pages on both workers answer and say that live updates are paused, and /healthz answers 503 naming
what is down. Once Redis answers again /healthz recovers and pages stop saying so; the task ends
with every image and the ledger equal to what the upstream charged. Runs in CI's PostgreSQL + Redis
pass.
"""

from __future__ import annotations

import json
import time
import urllib.error
from decimal import Decimal

import pytest

from runware_web.media.models import Image
from runware_web.money.models import Charge
from runware_web.upstream.models import Task
from tests.conftest import make_user
from tests.faults.processes import production_only, until
from tests.workers import Member

pytestmark = pytest.mark.django_db(transaction=True)

IMAGES = 4
SECONDS_PER_IMAGE = 2
OUTAGE = 5  # seconds Redis stays away: two images are made meanwhile
PAUSED = "Live updates are paused"


def health(member: Member) -> tuple[int, dict]:
    try:
        with member.opener.open(member.base + "/healthz", timeout=20) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as answer:
        return answer.code, json.loads(answer.read())


def page(member: Member, path: str = "/studio/") -> tuple[int, str]:
    try:
        with member.opener.open(member.base + path, timeout=20) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as answer:
        return answer.code, answer.read().decode(errors="replace")


@production_only
def test_redis_stopping_mid_task_loses_nothing_and_both_workers_keep_answering(layout):
    make_user("alice")
    _, first_url = layout.start_worker()
    _, second_url = layout.start_worker()
    balance_before = layout.upstream.balance()
    alice, alice_elsewhere = Member(first_url), Member(second_url)
    alice.log_in("alice", "correct horse battery")
    alice_elsewhere.log_in("alice", "correct horse battery")

    assert alice.post("/studio/generate", {
        "positivePrompt": f"a lighthouse in a storm [sim:delay={SECONDS_PER_IMAGE}]", "model": "runware:101@1",
        "width": "256", "height": "256", "numberResults": str(IMAGES),
    }) == 200
    task = until(lambda: Task.objects.filter(user__username="alice").first(), seconds=20, what="the task's row")
    until(lambda: Image.objects.filter(task=task).exists(), seconds=30, what="the first image")

    layout.redis.stop()
    stopped_at = time.monotonic()
    for member in (alice, alice_elsewhere):
        status, body = page(member)
        assert status == 200 and PAUSED in body, "pages answer without Redis, and say live updates are paused"
        status, report = health(member)
        assert status == 503 and not report["checks"]["cache"]["ok"], report
        assert str(layout.redis.port) not in json.dumps(report)  # no internal address
    time.sleep(max(0.0, OUTAGE - (time.monotonic() - stopped_at)))  # the outage's length: nothing to wait for
    layout.redis.start()  # the same port, empty: every group and cached value is gone
    restarted_at = time.monotonic()

    for member in (alice, alice_elsewhere):
        until(lambda member=member: health(member)[0] == 200, seconds=30, what="/healthz to recover")
        until(lambda member=member: PAUSED not in page(member)[1], seconds=30, what="pages to stop saying paused")
    print(f"both workers healthy {time.monotonic() - restarted_at:.1f} s after Redis came back")

    task = until(lambda: Task.objects.filter(pk=task.pk, finished_at__isnull=False).first(),
                 seconds=IMAGES * SECONDS_PER_IMAGE + 30, what="the task to end")
    assert task.status == Task.Status.DONE, task.error_message
    images = list(Image.objects.filter(task=task))
    assert len(images) == IMAGES and all(image.file.storage.exists(image.file.name) for image in images)
    charged = sum(Charge.objects.filter(task=task).values_list("amount", flat=True), Decimal(0))
    assert charged == task.cost == balance_before - layout.upstream.balance()
