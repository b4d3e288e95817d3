"""How many image results per second the portal's upstream session relays, against a bare SDK.

    .venv/bin/python benchmarks/upstream_relay.py [--tasks 200] [--results 4] [--concurrency 20] [--repeat 3] [--warm]

Both sides talk to the same zero-delay simulator in the same run; it runs in its own process
(as Runware is remote), so it does not compete with the client for this process's interpreter. The bare side is one
runware-sdk client running the tasks; the portal side submits the same tasks through
`runner.submit` (admission, Task row, ledger row per result, publish to the member's group).
The ratio portal/bare is the overhead of the portal's layer (aim: at least 0.9); the two sides
alternate `--repeat` times and the median ratio is reported, as one run on a busy machine is noisy.

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

from _setup import ROOT, database_label, django_with_fresh_database

PARAMS = {"model": "runware:101@1", "positivePrompt": "benchmark", "width": 128, "height": 128}


class SimulatorProcess:
    """`manage.py runware_simulator` on a free port, in its own process."""

    def __init__(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.ws_url = f"ws://127.0.0.1:{self.port}/v1"
        self.http_url = f"http://127.0.0.1:{self.port}/v1"
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "runware_simulator", "--port", str(self.port), "--latency", "0"],
            cwd=ROOT, env={**os.environ, "DJANGO_DEBUG": "true"}, stdout=subprocess.DEVNULL,
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


async def bare(sim, tasks: int, results: int, concurrency: int, seeds: int = 0) -> float:
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
    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(tasks)))
    elapsed = time.perf_counter() - started
    await client.close()
    assert count == tasks * results, count
    return count / elapsed


async def portal(tasks: int, results: int, concurrency: int, seeds: int = 0) -> float:
    from channels.db import database_sync_to_async

    from runware_web.accounts.models import User
    from runware_web.upstream.models import Task
    from runware_web.upstream.runner import Handler, register, runner

    class Relay(Handler):
        feature = "bench"

        async def on_result(self, task, item):
            return f'<div id="slot-{item["imageUUID"]}"><img src="{item.get("imageURL", "")}"></div>'

    register(Relay())
    user = await database_sync_to_async(
        lambda: User.objects.get_or_create(username=f"bench-{uuid.uuid4().hex[:6]}")[0]
    )()
    await runner.ensure_started()
    await (await runner.client()).connect()
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with gate:
            task = await runner.submit(
                user=user, feature="bench", task_type="imageInference",
                params={**PARAMS, "seed": seeds + i + 1, "numberResults": results}, number_results=results,
            )
            await runner.wait(task.pk)

    started = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(tasks)))
    elapsed = time.perf_counter() - started
    done = await database_sync_to_async(
        lambda: sum(Task.objects.filter(user=user).values_list("results_received", flat=True))
    )()
    await runner.shutdown()
    assert done == tasks * results, done
    return done / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--results", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3, help="bare/portal pairs; the median ratio is reported")
    parser.add_argument("--warm", action="store_true",
                        help="let both sides ask for images the simulator has already rendered (it keeps them): "
                        "the simulator then costs almost nothing, and the portal's own ceiling shows")
    args = parser.parse_args()

    django_with_fresh_database()
    from django.conf import settings

    sim = SimulatorProcess()
    settings.RUNWARE_WS_URL, settings.RUNWARE_HTTP_URL = sim.ws_url, sim.http_url
    pairs = []
    try:
        asyncio.run(bare(sim, 20, args.results, args.concurrency, seeds=10**9))  # connections, code paths
        if args.warm:
            asyncio.run(bare(sim, args.tasks, args.results, args.concurrency))
        for run in range(args.repeat):
            # The simulator renders each new (prompt, seed) once and keeps it: unless --warm, every
            # run of either side asks for seeds nobody asked for before, so both render every image.
            bare_seeds, portal_seeds = (0, 0) if args.warm else (2 * run + 1, 2 * run + 2)
            bare_rate = asyncio.run(bare(sim, args.tasks, args.results, args.concurrency, bare_seeds * 10**6))
            portal_rate = asyncio.run(portal(args.tasks, args.results, args.concurrency, portal_seeds * 10**6))
            pairs.append((bare_rate, portal_rate))
    finally:
        sim.stop()
    mode = "images already rendered (--warm)" if args.warm else "every image rendered by the simulator"
    print(f"database: {database_label()}; {args.tasks} tasks × {args.results} images, "
          f"{args.concurrency} at a time; {mode}")
    for number, (bare_rate, portal_rate) in enumerate(pairs, 1):
        print(f"run {number}: bare runware-sdk client {bare_rate:8.1f} results/s, "
              f"portal upstream session {portal_rate:8.1f} results/s, ratio {portal_rate / bare_rate:5.2f}")
    print(f"median ratio portal/bare: {statistics.median(p / b for b, p in pairs):5.2f}")


if __name__ == "__main__":
    main()
