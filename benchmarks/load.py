"""Load: N logged-in browsers generating at once through one Daphne worker.

    .venv/bin/python benchmarks/load.py [--clients 50 200 500] [--rounds 3] [--results 4]

For each N it starts, in their own processes, a zero-delay simulator (`manage.py runware_simulator
--latency 0`) and one Daphne worker (`runware_web.asgi:application`), then opens N WebSocket
clients on /ws/studio/, each a different member with a real session cookie and our Origin (the
`websockets` library, as a browser would). It reports:

- memory per idle socket: the worker's RSS with N idle sockets open, minus its RSS before they
  were opened (after one warm-up generation), divided by N;
- results relayed per second: each client sends `rounds` generations of `results` images, one
  after the other, all clients at once; the rate is images received by the clients over the time
  from the first request to the last image;
- latency: for each image, the time from the client's request to the arrival of that image's
  fragment. The simulator does not expose when it sent a result, so the portal's *added* latency
  is estimated as the same percentile of a bare runware-sdk client's per-result latency (request
  to `on_result`), measured in the same run with the same concurrency (N tasks in flight,
  `rounds` each, same images), subtracted from the portal's. That difference holds everything the
  portal does per request and per result: form validation, admission, the Task row, the ledger
  row, fetching the image from the simulator and storing it with its thumbnail, rendering the
  fragment, the channel layer, and the WebSocket hop to the client;
- errors: refused connections, error toasts, failed generations, images that never arrived.

The clients run in this process; on a small machine they share its CPUs with the worker and the
simulator, so the figures are a floor for what the worker can do.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _setup import ROOT, database_label, django_with_fresh_database  # noqa: E402

SLOT = re.compile(r'<figure class="tile result" id="slot-([0-9a-f-]{36})-(\d+)"')
FAILED = ('role="alert"', "generation-failed")
AT_REST_ROUNDS = 10
PARAMS = {"model": "runware:101@1", "width": 128, "height": 128, "steps": 4, "outputFormat": "PNG"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.1)  # a process starting up: nothing to wait on but its port
    raise RuntimeError(f"{what} did not start")


class Servers:
    """The simulator and one Daphne worker, each in its own process, on the benchmark's database."""

    def __init__(self) -> None:
        self.sim_port, self.port = free_port(), free_port()
        self.simulator = subprocess.Popen(
            [sys.executable, "manage.py", "runware_simulator", "--port", str(self.sim_port), "--latency", "0",
             "--stream-chunk-delay", "0"],
            cwd=ROOT, env={**os.environ, "DJANGO_DEBUG": "true"}, stdout=subprocess.DEVNULL,
        )
        wait_for_port(self.sim_port, self.simulator, "the simulator")
        self.ws_url = f"ws://127.0.0.1:{self.sim_port}/v1"
        self.http_url = f"http://127.0.0.1:{self.sim_port}/v1"
        env = {**os.environ, "RUNWARE_WS_URL": self.ws_url, "RUNWARE_HTTP_URL": self.http_url}
        # The worker's log goes to a file: a pipe nobody reads would fill up and stall the worker.
        self.log = tempfile.NamedTemporaryFile(prefix="runware-load-worker-", suffix=".log", delete=False)
        self.worker = subprocess.Popen(
            [sys.executable, "-m", "runware_web.live.server", "-b", "127.0.0.1", "-p", str(self.port), "-v", "0",
             "runware_web.asgi:application"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=self.log,
        )
        wait_for_port(self.port, self.worker, "the Daphne worker")

    def worker_rss(self) -> int:
        """The worker's resident memory, in bytes."""
        for line in Path(f"/proc/{self.worker.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS")

    def stop(self) -> None:
        for process in (self.worker, self.simulator):
            process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=15)
            if process.poll() is None:
                process.kill()


def member_cookies(count: int) -> list[str]:
    """`count` new members, each with a logged-in session: their Cookie headers."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    from runware_web.accounts.models import User

    run = uuid.uuid4().hex[:6]
    users = User.objects.bulk_create(User(username=f"load-{run}-{n}") for n in range(count))
    cookies = []
    for user in users:  # bulk_create sets primary keys on PostgreSQL and SQLite ≥ 3.35
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        cookies.append(f"{settings.SESSION_COOKIE_NAME}={session.session_key}")
    return cookies


# ------------------------------------------------------------------------------------ the portal side


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    results: int = 0
    errors: list[str] = field(default_factory=list)
    first_send: float = float("inf")
    last_result: float = 0.0


class Browser:
    """One member's studio tab."""

    def __init__(self, port: int, cookie: str) -> None:
        self.url = f"ws://127.0.0.1:{port}/ws/studio/"
        self.headers = {"Cookie": cookie, "Origin": f"http://127.0.0.1:{port}"}
        self.ws = None

    async def open(self) -> None:
        from websockets.asyncio.client import connect

        self.ws = await connect(self.url, additional_headers=self.headers, max_size=None, open_timeout=60)
        await asyncio.wait_for(self.ws.recv(), 60)  # the results list every tab is sent on connecting

    async def generate(self, number: int, results: int, tally: Tally) -> None:
        request = {"action": "generate", "positivePrompt": f"load test {number}", "numberResults": str(results),
                   **{name: str(value) for name, value in PARAMS.items()}}
        import json

        sent = time.perf_counter()
        tally.first_send = min(tally.first_send, sent)
        await self.ws.send(json.dumps(request))
        arrived: set[tuple[str, str]] = set()
        task: str | None = None
        while len(arrived) < results:
            frame = await asyncio.wait_for(self.ws.recv(), 120)
            now = time.perf_counter()
            if any(marker in frame for marker in FAILED):
                tally.errors.append(frame[:200])
                return
            for task_id, index in SLOT.findall(frame):
                task = task or task_id
                if task_id == task and (task_id, index) not in arrived:
                    arrived.add((task_id, index))
                    tally.latencies.append(now - sent)
                    tally.results += 1
                    tally.last_result = max(tally.last_result, now)

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()


async def portal_run(servers: Servers, cookies: list[str], rounds: int, results: int) -> tuple[Tally, Tally, int, int]:
    tally, alone = Tally(), Tally()
    warm = Browser(servers.port, cookies[0])
    await warm.open()
    await warm.generate(0, results, Tally())  # the worker's runner and upstream session are up
    for number in range(AT_REST_ROUNDS):  # one member alone: the latency the portal adds at rest
        await warm.generate(number, results, alone)
    await warm.close()
    await asyncio.sleep(1.0)  # let the closed socket's consumer be torn down before measuring memory
    before = servers.worker_rss()

    browsers = [Browser(servers.port, cookie) for cookie in cookies[1:]]
    opened = await asyncio.gather(*(b.open() for b in browsers), return_exceptions=True)
    refused = [repr(result) for result in opened if isinstance(result, BaseException)]
    tally.errors += refused
    await asyncio.sleep(1.0)  # idle: nothing in flight when memory is read
    idle = servers.worker_rss()

    async def member(browser: Browser) -> None:
        for number in range(rounds):
            await browser.generate(number, results, tally)

    live = [b for b, result in zip(browsers, opened, strict=True) if not isinstance(result, BaseException)]
    outcomes = await asyncio.gather(*(member(b) for b in live), return_exceptions=True)
    tally.errors += [repr(outcome) for outcome in outcomes if isinstance(outcome, BaseException)]
    await asyncio.gather(*(b.close() for b in live), return_exceptions=True)
    return tally, alone, before, idle


# ------------------------------------------------------------------------------------ the bare SDK side


async def bare_run(servers: Servers, clients: int, rounds: int, results: int) -> Tally:
    from runware import RunOptions, Runware

    tally = Tally()
    client = Runware(api_key="bench", ws_base_url=servers.ws_url, http_base_url=servers.http_url, validate=False)
    await client.connect()

    async def member(n: int) -> None:
        for number in range(rounds):
            sent = time.perf_counter()
            tally.first_send = min(tally.first_send, sent)

            def arrived(item: dict, sent: float = sent) -> None:
                now = time.perf_counter()
                tally.latencies.append(now - sent)
                tally.results += 1
                tally.last_result = max(tally.last_result, now)

            try:
                await client.run({
                    **PARAMS, "positivePrompt": f"load test {number}", "seed": n * 1000 + number + 1,
                    "numberResults": results, "taskType": "imageInference", "taskUUID": str(uuid.uuid4()),
                    "includeCost": True, "deliveryMethod": "sync",
                }, RunOptions(on_result=arrived))
            except Exception as exc:  # counted, never hidden
                tally.errors.append(repr(exc))

    await asyncio.gather(*(member(n) for n in range(clients)))
    await client.close()
    return tally


# ------------------------------------------------------------------------------------ report


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


def rate(tally: Tally) -> float:
    return tally.results / (tally.last_result - tally.first_send) if tally.results else 0.0


def run(clients: int, rounds: int, results: int) -> dict:
    cookies = member_cookies(clients + 1)
    servers = Servers()
    try:
        asyncio.run(bare_run(servers, 20, 1, results))  # warm the simulator's caches
        bare_alone = asyncio.run(bare_run(servers, 1, AT_REST_ROUNDS, results))
        bare = asyncio.run(bare_run(servers, clients, rounds, results))
        portal, alone, before, idle = asyncio.run(portal_run(servers, cookies, rounds, results))
    finally:
        servers.stop()
    expected = clients * rounds * results
    missing = expected - portal.results if not portal.errors else 0
    return {
        "clients": clients,
        "expected": expected,
        "portal": portal,
        "bare": bare,
        "alone": (alone, bare_alone),
        "per_socket": (idle - before) / clients,
        "errors": len(portal.errors) + max(missing, 0),
        "error_samples": portal.errors[:3],
        "log": servers.log.name,
    }


def print_report(rows: list[dict], rounds: int, results: int) -> None:
    print(f"\ndatabase: {database_label()}; channel layer: "
          f"{'redis' if os.environ.get('REDIS_URL') else 'in-memory'}; one Daphne worker; "
          f"{os.cpu_count()} CPUs shared by worker, simulator and clients")
    print(f"each client: {rounds} generations × {results} images of 128×128, one after the other\n")
    head = (f"{'clients':>7} {'images':>7} {'portal/s':>9} {'bare/s':>8} {'ratio':>6} "
            f"{'p50 portal':>10} {'p50 bare':>9} {'+p50':>8} {'p99 portal':>10} {'p99 bare':>9} {'+p99':>8} "
            f"{'KB/idle socket':>14} {'errors':>6}")
    print(head)
    print("-" * len(head))
    for row in rows:
        portal, bare = row["portal"], row["bare"]
        p50, b50 = percentile(portal.latencies, 0.5), percentile(bare.latencies, 0.5)
        p99, b99 = percentile(portal.latencies, 0.99), percentile(bare.latencies, 0.99)
        print(f"{row['clients']:>7} {portal.results:>7} {rate(portal):>9.1f} {rate(bare):>8.1f} "
              f"{rate(portal) / rate(bare) if rate(bare) else 0:>6.2f} "
              f"{p50 * 1000:>8.1f}ms {b50 * 1000:>7.1f}ms {(p50 - b50) * 1000:>6.1f}ms "
              f"{p99 * 1000:>8.1f}ms {b99 * 1000:>7.1f}ms {(p99 - b99) * 1000:>6.1f}ms "
              f"{row['per_socket'] / 1024:>14.1f} {row['errors']:>6}")
        for sample in row["error_samples"]:
            print(f"        error: {sample}")
        if row["errors"]:
            print(f"        the worker's log: {row['log']}")
    print(f"\nAt rest (one member alone, {AT_REST_ROUNDS} generations, same run):")
    for row in rows:
        alone, bare_alone = row["alone"]
        p50, b50 = percentile(alone.latencies, 0.5), percentile(bare_alone.latencies, 0.5)
        p99, b99 = percentile(alone.latencies, 0.99), percentile(bare_alone.latencies, 0.99)
        print(f"  run with {row['clients']:>3} clients: portal p50 {p50 * 1000:.1f} ms, bare p50 {b50 * 1000:.1f} ms "
              f"(+{(p50 - b50) * 1000:.1f} ms); portal p99 {p99 * 1000:.1f} ms, bare p99 {b99 * 1000:.1f} ms "
              f"(+{(p99 - b99) * 1000:.1f} ms)")
    print("\n+p50 / +p99: the portal's added latency per image (portal percentile minus the bare SDK's, same run).")
    print("Aims: zero errors at 500 sockets; +p50 < 5 ms and +p99 < 25 ms at 200; < 100 KB per idle socket.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[50, 200, 500])
    parser.add_argument("--rounds", type=int, default=3, help="generations per client, one after the other")
    parser.add_argument("--results", type=int, default=4, help="images per generation")
    args = parser.parse_args()

    django_with_fresh_database()
    rows = []
    for clients in args.clients:
        rows.append(run(clients, args.rounds, args.results))
        print(f"{clients} clients: done", file=sys.stderr)
    print_report(rows, args.rounds, args.results)


if __name__ == "__main__":
    main()
