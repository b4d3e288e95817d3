"""Two Daphne workers sharing PostgreSQL and the Redis channel layer: one member, one tab on each
worker, a generation started in either tab progresses in both.

Runs when the suite runs against PostgreSQL + Redis (CI's second pass); the embedded set-up has
one process by design.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import expect

from tests.conftest import make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Daphne, which writes the stacks of its threads to stderr on SIGUSR1 (for a worker that will not stop).
WORKER = (
    "import faulthandler, signal; faulthandler.register(signal.SIGUSR1); "
    "from daphne.cli import CommandLineInterface; CommandLineInterface.entrypoint()"
)

scaled = (
    settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
    and "Redis" in settings.CHANNEL_LAYERS["default"]["BACKEND"]
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"worker on port {port} exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.1)  # start-up of a separate process; nothing to wait on but its port
    raise RuntimeError(f"worker on port {port} did not start")


@pytest.fixture
def two_workers(simulator):
    database = settings.DATABASES["default"]
    url = f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": url,
        "REDIS_URL": settings.REDIS_URL,
        "RUNWARE_WS_URL": simulator.ws_url,
        "RUNWARE_HTTP_URL": simulator.http_url,
        "RUNWARE_WEB_MEDIA_ROOT": str(settings.MEDIA_ROOT),
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    ports = [free_port(), free_port()]
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, "-b", "127.0.0.1", "-p", str(port), "runware_web.asgi:application"],
            cwd=settings.BASE_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        for port in ports
    ]
    try:
        for port, worker in zip(ports, workers, strict=True):
            wait_for_port(port, worker)
        yield [f"http://127.0.0.1:{port}" for port in ports]
    finally:
        for worker in workers:
            worker.terminate()
        hung = [stuck(worker) for worker in workers]
        if any(hung):
            pytest.fail("A worker did not stop within 20 s of SIGTERM. Where its threads were:\n"
                        + "\n".join(filter(None, hung)))


def stuck(worker: subprocess.Popen) -> str:
    """Empty once the worker has stopped; else (after 20 s) the stacks of its threads, and it is killed."""
    try:
        worker.wait(timeout=20)
        return ""
    except subprocess.TimeoutExpired:
        worker.send_signal(signal.SIGUSR1)
        with contextlib.suppress(subprocess.TimeoutExpired):
            worker.wait(timeout=2)  # it will not stop: time for the dump to be written
        worker.kill()
        return worker.communicate()[1].decode(errors="replace")[-20_000:]


@pytest.mark.skipif(not scaled, reason="needs PostgreSQL and the Redis channel layer (CI's second pass)")
def test_a_generation_started_on_one_worker_shows_on_the_other(two_workers, browser, simulator):
    simulator.set_latency(0.3)
    make_user("alice")
    client = Client()
    client.login(username="alice", password="correct horse battery")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20_000)
    # Cookies belong to the host, not the port: one session serves both workers.
    context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value,
                          "domain": "127.0.0.1", "path": "/"}])
    first, second = context.new_page(), context.new_page()
    try:
        first.goto(f"{two_workers[0]}/studio/")
        second.goto(f"{two_workers[1]}/studio/")
        for page, prompt in [(first, "a red fox in the snow"), (second, "a blue whale at night")]:
            page.get_by_label("Prompt", exact=True).fill(prompt)
            page.get_by_label("Number of images").fill("2")
            page.get_by_role("button", name="Generate").click()
            for watcher in (first, second):
                results = watcher.get_by_role("region", name="Results")
                expect(results.get_by_role("img", name=prompt)).to_have_count(2)
    finally:
        context.close()
