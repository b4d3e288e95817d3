"""How many image results per second the portal's upstream session relays, against a bare SDK.

    .venv/bin/python benchmarks/upstream_relay.py [--tasks 500] [--results 4] [--concurrency 20] [--repeat 5]
                                                  [--members 1] [--rate-limit 0] [--warm] [--shared-cpus]

Both sides talk to the same zero-delay simulator in the same run. The bare side is one
runware-sdk client running the tasks; the portal side submits the same tasks through
`runner.submit` (admission, Task row, ledger row per result, publish to the member's group).
The ratio portal/bare is the overhead of the portal's layer (aim: at least 0.9); the two sides
alternate `--repeat` times and the median ratio is reported, as one run on a busy machine is noisy.
Each side's CPU time per result (this process, all its threads) is printed too.

Runware is remote: its work never takes the portal's CPU. So the simulator runs in its own
process, on CPUs of its own (half of them), and both sides run on the other half. Without that
(--shared-cpus), the simulator's rendering threads and the client share every core, and on a
small machine the ratio measures how much CPU the client leaves the simulator rather than what
the layer costs.

The simulator really renders each image and keeps what it rendered. By default every run asks
for images nobody asked for before, so both sides wait on the same rendering, as they would on
Runware. With --warm both ask for images already rendered: the simulator then answers almost at
once, and the ratio shows the portal's own ceiling against a client that does nothing at all.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from typing import NamedTuple

from _setup import ROOT, database_label, django_with_fresh_database

PARAMS = {"model": "runware:101@1", "positivePrompt": "benchmark", "width": 128, "height": 128}


class SimulatorProcess:
    """`manage.py runware_simulator` on a free port, in its own process."""

    def __init__(self, cpus: set[int] | None = None) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.ws_url = f"ws://127.0.0.1:{self.port}/v1"
        self.http_url = f"http://127.0.0.1:{self.port}/v1"
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "runware_simulator", "--port", str(self.port), "--latency", "0"],
            cwd=ROOT, env={**os.environ, "DJANGO_DEBUG": "true"}, stdout=subprocess.DEVNULL,
            preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return
            time.sleep(0.1)  # polling for the port to open: start-up, not a measurement
        raise RuntimeError("the simulator did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


class Rate(NamedTuple):
    per_second: float  # results relayed per second of wall time
    cpu_ms: float  # this process's CPU time (all its threads) per result, in milliseconds


class Clock:
    """Wall time and this process's CPU time over a block."""

    def __enter__(self) -> Clock:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu

    def rate(self, results: int) -> Rate:
        return Rate(results / self.wall, 1000 * self.cpu / results)


async def bare(sim, tasks: int, results: int, concurrency: int, seeds: int = 0) -> Rate:
    from runware import Runware

    client = Runware(api_key="bench", ws_base_url=sim.ws_url, http_base_url=sim.http_url, validate=False)
    gate = asyncio.Semaphore(concurrency)
    count = 0

    async def one(i: int) -> None:
        nonlocal count
        async with gate:
            items = await client.run({
                **PARAMS, "seed": seeds + i + 1, "numberResults": results, "taskType": "imageInference",
                "taskUUID": str(uuid.uuid4()), "includeCost": True, "deliveryMethod": "sync",
            })
            count += len(items)

    await client.connect()
    with Clock() as clock:
        await asyncio.gather(*(one(i) for i in range(tasks)))
    await client.close()
    assert count == tasks * results, count
    return clock.rate(count)


async def portal(tasks: int, results: int, concurrency: int, seeds: int = 0, members: int = 1) -> Rate:
    from channels.db import database_sync_to_async
    from django.conf import settings

    from runware_web.accounts.models import User
    from runware_web.runner import runner
    from runware_web.upstream.client import shared_client
    from runware_web.upstream.models import Task

    settings.RUNWARE_WEB_TASK_HANDLERS = {**settings.RUNWARE_WEB_TASK_HANDLERS, "bench": "_relay.Relay"}
    users = await database_sync_to_async(
        lambda: [User.objects.create(username=f"bench-{uuid.uuid4().hex[:8]}") for _ in range(members)]
    )()
    await runner.ensure_started()
    await (await shared_client()).connect()
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with gate:
            task = await runner.submit(
                user=users[i % members], feature="bench", task_type="imageInference",
                params={**PARAMS, "seed": seeds + i + 1, "numberResults": results}, number_results=results,
            )
            await runner.wait(task.pk)

    with Clock() as clock:
        await asyncio.gather(*(one(i) for i in range(tasks)))
    done = await database_sync_to_async(
        lambda: sum(Task.objects.filter(user__in=users).values_list("results_received", flat=True))
    )()
    await runner.shutdown()
    assert done == tasks * results, done
    return clock.rate(done)


def split_cpus() -> tuple[set[int] | None, set[int] | None]:
    """The first half of this machine's CPUs for the simulator, the rest for the client."""
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if len(cpus) < 2:
        return None, None
    half = len(cpus) // 2
    return set(cpus[:half]), set(cpus[half:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=500)
    parser.add_argument("--results", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5, help="bare/portal pairs; the median ratio is shown")
    parser.add_argument("--warm", action="store_true",
                        help="let both sides ask for images the simulator has already rendered (it keeps them): "
                        "the simulator then costs almost nothing, and the portal's own ceiling shows")
    parser.add_argument("--members", type=int, default=1, help="spread the portal's tasks over this many members")
    parser.add_argument("--rate-limit", type=int, default=0,
                        help="tasks a member may start a minute (the portal's default: 30; 0: off, as in tests)")
    parser.add_argument("--shared-cpus", action="store_true",
                        help="let the simulator and the client share every CPU, instead of half each")
    args = parser.parse_args()

    django_with_fresh_database()
    from django.conf import settings

    settings.RATE_LIMIT_PER_MINUTE = args.rate_limit
    simulator_cpus, client_cpus = (None, None) if args.shared_cpus else split_cpus()
    if client_cpus:
        os.sched_setaffinity(0, client_cpus)
    sim = SimulatorProcess(simulator_cpus)
    settings.RUNWARE_WS_URL, settings.RUNWARE_HTTP_URL = sim.ws_url, sim.http_url
    pairs = []
    try:
        # Both sides once first (connections, imports, code paths), on seeds of their own.
        asyncio.run(bare(sim, 20, args.results, args.concurrency, seeds=10**9))
        asyncio.run(portal(20, args.results, args.concurrency, 2 * 10**9, args.members))
        if args.warm:
            asyncio.run(bare(sim, args.tasks, args.results, args.concurrency))
        for run in range(args.repeat):
            # The simulator renders each new (prompt, seed) once and keeps it: unless --warm, every
            # run of either side asks for seeds nobody asked for before, so both render every image.
            bare_seeds, portal_seeds = (0, 0) if args.warm else (2 * run + 1, 2 * run + 2)
            bare_rate = asyncio.run(bare(sim, args.tasks, args.results, args.concurrency, bare_seeds * 10**6))
            portal_rate = asyncio.run(
                portal(args.tasks, args.results, args.concurrency, portal_seeds * 10**6, args.members)
            )
            pairs.append((bare_rate, portal_rate))
    finally:
        sim.stop()
    mode = "images already rendered (--warm)" if args.warm else "every image rendered by the simulator"
    cpus = (f"simulator on CPUs {sorted(simulator_cpus)}, client on {sorted(client_cpus)}" if client_cpus
            else "simulator and client sharing every CPU")
    limit = f"at most {args.rate_limit} tasks a minute each" if args.rate_limit else "no rate limit"
    print(f"database: {database_label()}; {args.tasks} tasks × {args.results} images, "
          f"{args.concurrency} at a time; the portal's tasks from {args.members} member(s), {limit}; "
          f"{mode}; {cpus}")
    for number, (bare_rate, portal_rate) in enumerate(pairs, 1):
        print(f"run {number}: bare runware-sdk client {bare_rate.per_second:8.1f} results/s "
              f"({bare_rate.cpu_ms:.2f} ms CPU each), portal upstream session {portal_rate.per_second:8.1f} "
              f"results/s ({portal_rate.cpu_ms:.2f} ms CPU each), "
              f"ratio {portal_rate.per_second / bare_rate.per_second:5.2f}")
    ratio = statistics.median(portal.per_second / bare.per_second for bare, portal in pairs)
    print(f"median ratio portal/bare: {ratio:5.2f}; "
          f"median CPU per result: bare {statistics.median(bare.cpu_ms for bare, _ in pairs):.2f} ms, "
          f"portal {statistics.median(portal.cpu_ms for _, portal in pairs):.2f} ms")


if __name__ == "__main__":
    main()
