"""Processes of the fault suite's own: a Redis server, the Runware simulator, Daphne workers.

Each runs on a free port of 127.0.0.1, can be stopped (or killed) and started again on the same
port, and is stopped by its process id at the end of the test that started it.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import TypeVar

import pytest
import redis
from django.conf import settings

from tests.workers import PRODUCTION_LAYOUT, free_port, production_env, start_worker, stuck, wait_for_port

T = TypeVar("T")
REDIS_SERVER = shutil.which("redis-server")

#: Every test of the suite: on the production layout only, with committed rows other processes see.
production_only = pytest.mark.skipif(
    not PRODUCTION_LAYOUT or not REDIS_SERVER,
    reason="the production layout (PostgreSQL and Redis, CI's second pass) and a redis-server to start",
)
#: A short lease, so that the tests wait seconds rather than the default ten.
LEASE_SECONDS = 3


def until(condition: Callable[[], T], *, seconds: float, what: str) -> T:
    """Poll another process's work (rows in the shared database) until `condition()` is truthy."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.1)  # nothing to wait on but rows another process writes
    pytest.fail(f"Waited {seconds} s for {what}.")


class PrivateRedis:
    """A Redis server of the test's own, stopped and started again on the same port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        assert REDIS_SERVER
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--daemonize", "no"],
            stdout=subprocess.DEVNULL,
        )
        probe = redis.Redis(port=self.port, socket_connect_timeout=1)
        deadline = time.monotonic() + 10
        while True:
            try:
                probe.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise
                time.sleep(0.05)  # a separate process starting: nothing to wait on but its port

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


class UpstreamProcess:
    """The Runware simulator in a process of its own (`manage.py runware_simulator`): killed and
    started again on the same port, it has forgotten every task, as Runware restarting would."""

    def __init__(self, *, latency: float = 0.0) -> None:
        self.port = free_port()
        self.latency = latency
        self.ws_url = f"ws://127.0.0.1:{self.port}/v1"
        self.http_url = f"http://127.0.0.1:{self.port}/v1"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "runware_simulator", "--port", str(self.port),
             "--latency", str(self.latency), "--stream-chunk-delay", "0"],
            cwd=settings.BASE_DIR, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        wait_for_port(self.port, self.process)

    def kill(self) -> None:
        """SIGKILL: the upstream dies with its tasks in flight."""
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=10)
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait(timeout=10)
            self.process = None

    def balance(self) -> Decimal:
        """The account's balance, asked over the real protocol (REST `accountManagement`)."""
        frame = [{"taskType": "accountManagement", "taskUUID": str(uuid.uuid4()), "operation": "getDetails"}]
        request = urllib.request.Request(
            self.http_url, data=json.dumps(frame).encode(),
            headers={"Authorization": f"Bearer {settings.RUNWARE_API_KEY}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            data = json.loads(response.read(), parse_float=Decimal)["data"][0]
        balance = data["balance"]
        return Decimal(str(balance["amount"] if isinstance(balance, dict) else balance))


class Layout:
    """The production layout of one test: this run's PostgreSQL database, a Redis server and an
    upstream of the test's own, and Daphne workers started on demand."""

    def __init__(self, *, redis_server: PrivateRedis, upstream: UpstreamProcess, **env: str) -> None:
        self.redis = redis_server
        self.upstream = upstream
        self.env = production_env(upstream, REDIS_URL=redis_server.url, **env)
        self.workers: list[subprocess.Popen[bytes]] = []

    def start_worker(self, port: int | None = None) -> tuple[subprocess.Popen[bytes], str]:
        """A Daphne worker, as the README starts one; its process and its base URL."""
        port = port or free_port()
        process = start_worker(self.env, port)
        self.workers.append(process)
        wait_for_port(port, process)
        return process, f"http://127.0.0.1:{port}"

    def stop(self) -> list[str]:
        """Stop every worker still running (SIGTERM, as systemd does): the stacks of any that hung."""
        for process in self.workers:
            if process.poll() is None:
                process.terminate()
        return [stacks for process in self.workers if process.poll() is None and (stacks := stuck(process))]
