"""A Daphne worker stopped (SIGTERM) while a member's request waits on a running task exits
cleanly, within its grace period, and leaves the task for the next worker to recover.

The worker is a real Daphne process with a database of its own (SQLite), talking to the session's
simulator.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from django.conf import settings

from tests.workers import Member, free_port, manage, start_worker, stuck, wait_for_port, worker_env


def tasks(database: Path) -> list[tuple[str, str, str | None]]:
    with sqlite3.connect(database) as db:
        return db.execute("SELECT task_type, status, finished_at FROM upstream_task").fetchall()


def test_a_worker_stopped_mid_request_exits_cleanly_and_leaves_the_task_recoverable(simulator, tmp_path):
    env = worker_env(simulator, drop=("DATABASE_URL", "REDIS_URL"), RUNWARE_WEB_DATA_DIR=str(tmp_path))
    manage(env, "migrate", "-v0")
    manage(env, "shell", "-c", "from runware_web.accounts.models import User; "
                               "User.objects.create_user('alice', password='correct horse battery')")
    port = free_port()
    worker = start_worker(env, port)
    try:
        wait_for_port(port, worker)
        alice = Member(f"http://127.0.0.1:{port}")
        alice.log_in("alice", "correct horse battery")
        # The tools page's prompt enhancement answers once the task is done: 30 s from now.
        waiting = threading.Thread(target=alice.post, args=(
            "/tools/enhance/", {"prompt": "a cat [sim:delay=30]", "promptVersions": "1", "promptMaxLength": "100"}))
        waiting.start()
        database = tmp_path / "db.sqlite3"
        deadline = time.monotonic() + 20
        while tasks(database) != [("promptEnhance", "running", None)] and time.monotonic() < deadline:
            time.sleep(0.05)  # another process's database: nothing to wait on but the row
        assert tasks(database) == [("promptEnhance", "running", None)]

        stopped_at = time.monotonic()
        worker.terminate()
        assert not stuck(worker), "the worker did not stop"
        waiting.join(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
        errors = worker.communicate()[1].decode(errors="replace")

    assert worker.returncode == 0, f"exit code {worker.returncode}:\n{errors[-3000:]}"
    assert "Fatal Python error" not in errors
    assert time.monotonic() - stopped_at < settings.RUNWARE_SHUTDOWN_GRACE + 5
    assert tasks(database) == [("promptEnhance", "running", None)]  # for the next worker to recover
