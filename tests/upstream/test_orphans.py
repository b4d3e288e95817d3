"""Taking over dead workers' tasks: only theirs, never a live worker's, however the scan and a new
worker's first task interleave."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from runware_web.upstream.models import Task, Worker
from tests.conftest import make_user

pytestmark = pytest.mark.django_db(transaction=True)


def running_task(user, worker: str) -> Task:
    return Task.objects.create(
        user=user, feature="studio", task_type="imageInference", model="runware:101@1",
        params={"positivePrompt": "a lighthouse at dusk"}, status=Task.Status.RUNNING, worker=worker,
        started_at=timezone.now(),
    )


def test_a_worker_starting_during_the_scan_keeps_its_first_task():
    """Another worker registers and writes its first task while this one is scanning for orphans
    (between the scan's first statement and its next): the dead worker's task is adopted, the new
    worker's is not."""
    alice = make_user("alice")
    now = timezone.now()
    Worker.objects.create(id="dead", last_seen=now - timedelta(minutes=5))
    dead_ones = running_task(alice, "dead")
    statements: list[str] = []
    started: dict[str, Task] = {}

    def a_worker_starts_meanwhile(execute, sql, params, many, context):
        statements.append(sql)
        if len(statements) == 2 and not started:
            Worker.objects.create(id="just-started", last_seen=timezone.now())
            started["task"] = running_task(alice, "just-started")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(a_worker_starts_meanwhile):
        adopted = Task.objects.adopt_orphans("this-worker", stale_before=now - timedelta(seconds=60))

    assert started, "the scan ran fewer than two statements: the interleaving was not tried"
    assert [task.pk for task in adopted] == [dead_ones.pk]
    assert Task.objects.get(pk=dead_ones.pk).worker == "this-worker"
    assert Task.objects.get(pk=started["task"].pk).worker == "just-started"
