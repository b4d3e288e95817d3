"""Daphne worker processes for the tests that need several processes (or one that stops or dies), and
what those tests share: the production layout's environment, a member's session with a worker."""

from __future__ import annotations

import contextlib
import http.cookiejar
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

from django.conf import settings

# Daphne as production starts it (`python -m runware_web.live.server`), which writes the stacks of its
# threads to stderr on SIGUSR1 (for a worker that will not stop).
WORKER = (
    "import faulthandler, signal; faulthandler.register(signal.SIGUSR1); "
    "from runware_web.live.server import main; main()"
)


def worker_env(simulator, *, drop: tuple[str, ...] = (), **values: str) -> dict[str, str]:
    """A worker's environment: this one with the test settings, talking to the session's simulator,
    without the variables in `drop` and with `values`."""
    env = {key: value for key, value in os.environ.items() if key not in {*drop, "DJANGO_ALLOW_ASYNC_UNSAFE"}}
    env.update(DJANGO_SETTINGS_MODULE="tests.settings", RUNWARE_WS_URL=simulator.ws_url,
               RUNWARE_HTTP_URL=simulator.http_url, **values)
    return env


# PostgreSQL, with Redis for the channel layer and the cache: what the README runs in production.
PRODUCTION_LAYOUT = (
    settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and bool(settings.REDIS_URL)
)


def production_env(simulator, **values: str) -> dict[str, str]:
    """A worker's environment on the production layout: this test run's database, Redis and media,
    any of them replaced by `values`."""
    database = settings.DATABASES["default"]
    url = f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}"
    layout = {"DATABASE_URL": url, "REDIS_URL": settings.REDIS_URL, "RUNWARE_WEB_MEDIA_ROOT": str(settings.MEDIA_ROOT)}
    return worker_env(simulator, **{**layout, **values})


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=settings.BASE_DIR, env=env, check=True,
                   capture_output=True)


class Member:
    """A browser's session with the worker: cookies, and the CSRF token forms send."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))

    def csrf(self) -> str:
        return next(cookie.value for cookie in self.cookies if cookie.name == "csrftoken")

    def post(self, path: str, fields: dict[str, str]) -> int:
        request = urllib.request.Request(
            self.base + path, data=urllib.parse.urlencode(fields).encode(),
            headers={"X-CSRFToken": self.csrf(), "Referer": self.base + path},
        )
        try:
            return self.opener.open(request, timeout=60).status
        except (urllib.error.URLError, ConnectionError):
            return 0  # the worker went away while answering

    def log_in(self, username: str, password: str) -> None:
        self.opener.open(self.base + "/accounts/login/", timeout=10)
        self.post("/accounts/login/", {"username": username, "password": password})


def start_worker(env: dict[str, str], port: int) -> subprocess.Popen:
    """A Daphne worker serving the portal on 127.0.0.1:`port`, its stderr kept for the test."""
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, "-b", "127.0.0.1", "-p", str(port), "--no-server-name",
         "runware_web.asgi:application"],
        cwd=settings.BASE_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
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
