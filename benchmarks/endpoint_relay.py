"""The official runware-sdk through the portal's endpoint (/v1), against the same SDK talking to Runware directly.

    .venv/bin/python benchmarks/endpoint_relay.py [--tasks 200] [--results 4] [--concurrency 10] [--repeat 3]
                                                  [--latency 0.4] [--transport websocket|rest] [--fetch] [--shared-cpus]

In one run, against one simulator (its own process, `manage.py runware_simulator --latency L`:
by default its own 0.4 s before each result; `--latency 0` for none, the portal's ceiling) and one
Daphne worker of the portal (its own process, `runware_web.live.server`):

- direct: a runware-sdk client with the simulator's address runs `--tasks` imageInference tasks
  of `--results` images each, `--concurrency` at a time (sync delivery, as a script that wants its
  images at once asks for them);
- relay: the same client, unchanged, pointed at the portal's `/v1` with a member's personal key,
  runs the same tasks. Each goes through the portal's runner: admission against the member's and
  the key's budgets and rate limits, the Task and EndpointCall rows, the ledger, the image fetched
  from the simulator and stored in the member's gallery with its thumbnail, the result pushed back
  with the portal's own signed URL.

It prints the relay's rate (results a second) as a share of the direct one (aim: at least 0.8),
and the latency the portal adds per result at p50 and p95: for each result (the n-th result of the
i-th task), the time from its task's request to its arrival (the SDK's `on_result`) relayed, minus
the same for the same result direct (the simulator delays both alike); aim: p50 under 5 ms. The two
sides alternate `--repeat` times; the medians are reported, as one run on a busy machine is noisy.
It also prints the CPU time each result costs the portal worker and the client: on a machine
where they share a CPU, the worker's time is what the client's rate pays for; and, after each
relayed run, how long after the last result every image was in the member's gallery and every
result in the ledger (the run fails if that does not happen): the book-keeping is not on the
results' path, but it is done. `--profile PATH` runs the worker under cProfile.

The paired latency has the simulator in it: its own timing differs from run to run by more than
the portal adds (the relayed run's results have come back sooner than the hold below would allow).
So it also prints, timed inside the worker, how long the portal held each task before sending it
upstream (from the script's frame arriving at the endpoint's consumer to the SDK's send): the
checks, the admission's transaction and the start, which every result of the task waits on.

Like with like: the SDK does not download images, so by default neither side does, and the relay
alone fetches and stores each image (in the worker, after handing the result on). `--fetch` makes
both sides download every image as a script that wants them would (direct: from the simulator's
URL; relay: from the portal's media URL, which waits for the image to be stored), so that both
pay for the bytes.

The simulator renders each new (prompt, seed) once and keeps it: every run asks for seeds nobody
asked for before, so both sides wait on the same rendering, as they would on Runware. Runware is
remote and never takes the portal's CPU, so the simulator runs on half of the CPUs and the portal
worker and this client on the other half (--shared-cpus: everything everywhere).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _setup import ROOT, database_label, django_with_fresh_database  # noqa: E402
from load import free_port, wait_for_port  # noqa: E402
from upstream_relay import split_cpus  # noqa: E402

LIMIT = 1_000_000  # tasks a minute, of the member and of the key (checked, never reached)
PARAMS = {"taskType": "imageInference", "model": "runware:101@1", "positivePrompt": "endpoint benchmark",
          "width": 128, "height": 128, "steps": 4, "deliveryMethod": "sync"}


#: The portal worker, run by this script: Daphne, with the time it holds each script's task timed
#: (from the frame's arrival at the endpoint's consumer to the SDK's send of the task upstream: the
#: checks, the admission's transaction, the start), written as JSON to `held` as it stops; with
#: `profile`, its event-loop thread under cProfile. Timed from outside the portal's code: the
#: consumer's `receive` marks the frame's arrival in the context its tasks are answered in, and the
#: SDK's send reads it.
WORKER = """
import atexit, contextvars, cProfile, json, sys, time
import runware_web.asgi  # Django set up, as Daphne would, before the consumer's module is imported
from runware.transport.websocket import WebSocketTransport
from runware_web.endpoint.consumers import EndpointConsumer
from runware_web.live.server import main

arrived = contextvars.ContextVar("arrived", default=None)
held = []  # (when the frame arrived, seconds until its task went upstream)
receive, send = EndpointConsumer.receive, WebSocketTransport._send

async def timed_receive(self, text_data=None, bytes_data=None):
    arrived.set((time.time(), time.perf_counter()))  # copied into the task that answers each task
    await receive(self, text_data, bytes_data)

async def timed_send(self, payload):
    when = arrived.get()
    if when is not None and payload and payload[0].get("taskType") not in ("ping", "authentication", "getResponse"):
        held.append((when[0], time.perf_counter() - when[1]))
    await send(self, payload)

EndpointConsumer.receive, WebSocketTransport._send = timed_receive, timed_send
atexit.register(lambda: open({held!r}, "w").write(json.dumps(held)))
sys.argv[0] = "daphne"
profile = cProfile.Profile() if {profile!r} else None
if profile:
    profile.enable()
try:
    main()
finally:
    if profile:
        profile.disable()
        profile.dump_stats({profile!r})
"""


class Servers:
    """The simulator and one portal worker, each in its own process, on the benchmark's database."""

    def __init__(self, simulator_cpus: set[int] | None, portal_cpus: set[int] | None, profile: str = "",
                 latency: float = 0.0) -> None:
        self.sim_port, self.port = free_port(), free_port()
        self.simulator = subprocess.Popen(
            [sys.executable, "manage.py", "runware_simulator", "--port", str(self.sim_port), "--latency", str(latency)],
            cwd=ROOT, env={**os.environ, "DJANGO_DEBUG": "true"}, stdout=subprocess.DEVNULL,
            preexec_fn=(lambda: os.sched_setaffinity(0, simulator_cpus)) if simulator_cpus else None,
        )
        wait_for_port(self.sim_port, self.simulator, "the simulator")
        self.sim_ws, self.sim_http = f"ws://127.0.0.1:{self.sim_port}/v1", f"http://127.0.0.1:{self.sim_port}/v1"
        self.portal_ws, self.portal_http = f"ws://127.0.0.1:{self.port}/v1", f"http://127.0.0.1:{self.port}/v1"
        env = {
            **os.environ, "RUNWARE_WS_URL": self.sim_ws, "RUNWARE_HTTP_URL": self.sim_http,
            # The member's and the key's rate limits stay on, as a script meets them, but too high
            # to refuse any of the benchmark's tasks: every task pays for their checks.
            "RUNWARE_WEB_ENDPOINT_TASKS_PER_MINUTE_PER_KEY": str(LIMIT), "RUNWARE_WEB_RATE_LIMIT_PER_MINUTE": str(LIMIT),
        }
        # The worker's log goes to a file: a pipe nobody reads would fill up and stall the worker.
        self.log = tempfile.NamedTemporaryFile(prefix="runware-endpoint-worker-", suffix=".log", delete=False)  # noqa: SIM115
        daphne = ["-b", "127.0.0.1", "-p", str(self.port), "-v", "0", "runware_web.asgi:application"]
        self.held_path = f"{self.log.name}.held.json"
        self.worker = subprocess.Popen(
            [sys.executable, "-c", WORKER.format(held=self.held_path, profile=profile), *daphne],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=self.log,
            preexec_fn=(lambda: os.sched_setaffinity(0, portal_cpus)) if portal_cpus else None,
        )
        try:
            wait_for_port(self.port, self.worker, "the portal worker")
        except RuntimeError:
            self.stop()  # the simulator too: it holds this script's output open
            raise

    def stop(self) -> None:
        for process in (self.worker, self.simulator):
            process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=15)
            if process.poll() is None:
                process.kill()

    def held(self) -> list[tuple[float, float]]:
        """What the stopped worker timed: (when a task's frame arrived, seconds until it went upstream)."""
        path = Path(self.held_path)
        timed = json.loads(path.read_text()) if path.exists() else []
        path.unlink(missing_ok=True)
        return [(when, seconds) for when, seconds in timed]


@dataclass
class Run:
    results: int = 0
    seconds: float = 0.0
    # request → each result, in seconds, by (task number, result number): the same task of the
    # direct and the relayed run (same seed, same simulator delays) pairs result for result.
    latencies: dict[tuple[int, int], float] = field(default_factory=dict)
    client_cpu: float = 0.0  # seconds of this process's CPU time
    worker_cpu: float = 0.0  # seconds of the portal worker's CPU time (relay only)
    settled: float = 0.0  # relay only: seconds after the last result until every image was stored and charged
    window: tuple[float, float] = (0.0, 0.0)  # when it began and ended (time.time())
    held: list[float] = field(default_factory=list)  # relay only: how long the portal held each task (seconds)

    @property
    def rate(self) -> float:
        return self.results / self.seconds

    @property
    def p50_ms(self) -> float:
        return 1000 * statistics.median(self.latencies.values())

    @property
    def p95_ms(self) -> float:
        return 1000 * statistics.quantiles(self.latencies.values(), n=20)[-1]

    def added_ms(self, direct: Run, quantile: float) -> float:
        """The latency this run adds to each result over the same result of `direct`, at a quantile."""
        return _quantile_ms([seconds - direct.latencies[result] for result, seconds in self.latencies.items()
                             if result in direct.latencies], quantile)

    def held_ms(self, quantile: float) -> float:
        """How long the worker held a task before sending it upstream, at a quantile (ms)."""
        return _quantile_ms(self.held, quantile) if self.held else float("nan")

    def cpu_ms(self, seconds: float) -> float:
        return 1000 * seconds / self.results


def _quantile_ms(seconds: list[float], quantile: float) -> float:
    """The value at a quantile of durations in seconds, in milliseconds."""
    ordered = sorted(seconds)
    return 1000 * ordered[min(len(ordered) - 1, int(quantile * len(ordered)))]


def cpu_seconds(pid: int) -> float:
    """A process's CPU time so far (user + system), from /proc; 0 where there is none."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def drive(ws_url: str, http_url: str, api_key: str, *, tasks: int, results: int, concurrency: int,
                seeds: int, transport: str, fetch: bool = False, worker: int | None = None) -> Run:
    """The official SDK, unchanged, running `tasks` tasks against whichever address it is given
    (with `fetch`, downloading each image as it arrives; a result counts once its bytes are in)."""
    import aiohttp
    from runware import RunOptions, Runware

    client = Runware(api_key=api_key, ws_base_url=ws_url, http_base_url=http_url, transport=transport,
                     validate=False)
    gate = asyncio.Semaphore(concurrency)
    run = Run()
    downloads: set[asyncio.Task[None]] = set()

    async def download(url: str, sent: float, result: tuple[int, int]) -> None:
        async with session.get(url) as response:
            response.raise_for_status()
            await response.read()
        run.latencies[result] = time.perf_counter() - sent

    def arrived(item: Any, sent: float, i: int, arrivals: list[int]) -> None:
        result = (i, len(arrivals))  # the task's first, second… result to arrive
        arrivals.append(1)
        if not fetch:
            run.latencies[result] = time.perf_counter() - sent
            return
        job = asyncio.ensure_future(download(item["imageURL"], sent, result))  # type: ignore[index]
        downloads.add(job)
        job.add_done_callback(downloads.discard)

    async def one(i: int) -> None:
        async with gate:
            sent, arrivals = time.perf_counter(), []
            options = RunOptions(on_result=lambda item: arrived(item, sent, i, arrivals))
            items = await client.run({**PARAMS, "seed": seeds + i + 1, "numberResults": results,
                                      "taskUUID": str(uuid.uuid4())}, options)
            run.results += len(items)

    async with aiohttp.ClientSession() as session:
        await client.connect()
        cpu, worker_cpu = time.process_time(), cpu_seconds(worker) if worker else 0.0
        started, run.window = time.perf_counter(), (time.time(), 0.0)
        await asyncio.gather(*(one(i) for i in range(tasks)))
        while downloads:
            await asyncio.gather(*downloads)
        run.seconds = time.perf_counter() - started
        run.window = (run.window[0], time.time())
        run.client_cpu = time.process_time() - cpu
        run.worker_cpu = cpu_seconds(worker) - worker_cpu if worker else 0.0
        await client.close()
    assert run.results == tasks * results, run.results
    return run


def settled(member_id: int, results: int, timeout: float = 120.0) -> float:
    """Wait until the relay's book-keeping is done (every task ended, every image in the member's
    gallery and charged in the ledger); the seconds it took. Raises if it is not done in time."""
    from django.db import close_old_connections

    from runware_web.media.models import Image
    from runware_web.money.models import Charge
    from runware_web.upstream.models import Task

    started = time.perf_counter()
    while True:
        close_old_connections()
        done = (not Task.objects.filter(user_id=member_id, finished_at__isnull=True).exists()
                and Image.objects.filter(user_id=member_id).count() == results
                and Charge.objects.filter(task__user_id=member_id).count() == results)
        if done:
            return time.perf_counter() - started
        if time.perf_counter() - started > timeout:
            raise RuntimeError("the portal did not store and charge every result in time")
        time.sleep(0.05)


def member_key() -> tuple[int, str]:
    """A member of the portal and the plaintext of a new key of theirs."""
    from runware_web.accounts.models import User
    from runware_web.endpoint.keys import create_key

    member = User.objects.create(username=f"endpoint-bench-{uuid.uuid4().hex[:8]}")
    return member.pk, create_key(member, name="benchmark")[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--results", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3, help="direct/relay pairs; the medians are shown")
    parser.add_argument("--transport", choices=["websocket", "rest"], default="websocket")
    parser.add_argument("--fetch", action="store_true",
                        help="both sides download every image (by default neither does, as the SDK does not)")
    parser.add_argument("--profile", metavar="PATH", default="",
                        help="run the portal worker under cProfile (its event-loop thread), writing the stats to PATH")
    parser.add_argument("--latency", type=float, default=0.4,
                        help="the simulator's delay before each result, in seconds: its own default, 0.4, "
                             "unless given (0: none, the portal's ceiling; Runware's own is seconds)")
    parser.add_argument("--shared-cpus", action="store_true",
                        help="let the simulator, the worker and the client share every CPU, instead of half each")
    args = parser.parse_args()

    django_with_fresh_database()
    simulator_cpus, client_cpus = (None, None) if args.shared_cpus else split_cpus()
    if client_cpus:
        os.sched_setaffinity(0, client_cpus)
    servers = Servers(simulator_cpus, client_cpus, args.profile, args.latency)
    member_id, plaintext = member_key()
    kwargs = {"results": args.results, "concurrency": args.concurrency, "transport": args.transport,
              "fetch": args.fetch}

    def direct(tasks: int, seeds: int) -> Run:
        return asyncio.run(drive(servers.sim_ws, servers.sim_http, "bench" * 8, tasks=tasks, seeds=seeds, **kwargs))

    stored = 0  # the member's results so far, each to be in the gallery and the ledger

    def relay(tasks: int, seeds: int) -> Run:
        nonlocal stored
        run = asyncio.run(drive(servers.portal_ws, servers.portal_http, plaintext, tasks=tasks, seeds=seeds,
                                worker=servers.worker.pid, **kwargs))
        stored += run.results
        run.settled = settled(member_id, stored)
        return run

    pairs = []
    try:
        direct(10, 10**9)  # both sides once first (connections, imports, code paths), on seeds of their own
        relay(10, 2 * 10**9)
        for number in range(args.repeat):
            pairs.append((direct(args.tasks, (2 * number + 1) * 10**6), relay(args.tasks, (2 * number + 2) * 10**6)))
    finally:
        servers.stop()
    held = servers.held()
    for _, relayed in pairs:
        relayed.held = [seconds for when, seconds in held if relayed.window[0] <= when <= relayed.window[1]]
    cpus = (f"simulator on CPUs {sorted(simulator_cpus)}, portal worker and client on {sorted(client_cpus)}"
            if client_cpus else "simulator, portal worker and client sharing every CPU")
    print(f"database: {database_label()}; channel layer: {'redis' if os.environ.get('REDIS_URL') else 'in-memory'}; "
          f"{args.tasks} tasks × {args.results} images, {args.concurrency} at a time, over {args.transport}; {cpus}")
    print("images downloaded by both sides (--fetch): a result counts once its bytes are in" if args.fetch else
          "images downloaded by neither side (the SDK does not; --fetch to download them): the portal alone "
          "fetches and stores each, after handing the result on")
    for number, (straight, relayed) in enumerate(pairs, 1):
        print(f"run {number}: direct {straight.rate:7.1f} results/s (p50 {straight.p50_ms:6.1f} ms, p95 "
              f"{straight.p95_ms:6.1f} ms), through the portal {relayed.rate:7.1f} results/s (p50 "
              f"{relayed.p50_ms:6.1f} ms, p95 {relayed.p95_ms:6.1f} ms): rate ratio {relayed.rate / straight.rate:4.2f}, "
              f"added per result p50 {relayed.added_ms(straight, 0.5):+6.1f} ms, p95 {relayed.added_ms(straight, 0.95):+6.1f} ms; "
              f"CPU per result: client {straight.cpu_ms(straight.client_cpu):.2f} ms direct, "
              f"{relayed.cpu_ms(relayed.client_cpu):.2f} ms relayed, portal worker {relayed.cpu_ms(relayed.worker_cpu):.2f} ms; "
              f"every image stored and charged {1000 * relayed.settled:.0f} ms after the last result"
              + (f"; each task held in the worker before it went upstream p50 {relayed.held_ms(0.5):.1f} ms, "
                 f"p95 {relayed.held_ms(0.95):.1f} ms" if relayed.held else ""))
    ratio = statistics.median(relayed.rate / straight.rate for straight, relayed in pairs)
    added = statistics.median(relayed.added_ms(straight, 0.5) for straight, relayed in pairs)
    held_p50 = statistics.median(relayed.held_ms(0.5) for _, relayed in pairs)
    # Timed on the WebSocket only: a REST request's tasks do not pass the socket's consumer.
    held = f"{held_p50:.1f} ms (every result of the task waits it)" if args.transport == "websocket" else "not timed over REST"
    print(f"median relay rate ratio: {ratio:4.2f} (aim ≥ 0.8); median added latency per result at p50: "
          f"{added:+.1f} ms (aim < 5 ms); median time a task was held in the worker before it went upstream: {held}")


if __name__ == "__main__":
    main()
