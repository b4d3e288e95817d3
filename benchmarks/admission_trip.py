"""One script's task admitted, alone: the trip every endpoint task waits on before it is sent.

    .venv/bin/python benchmarks/admission_trip.py [--trips 300] [--gap 0.15] [--way full|quick]

In this process, on the benchmark's database (DATABASE_URL, or a fresh SQLite file): a member
with a personal key, the member's and the key's rate limits on (too high to refuse), and the
runner's admission trip for one endpoint task (runner.batching, pipelined as the runner runs it:
the member's lock, the key's read and count, the task's and its call's rows, COMMIT), as
`services.start` hands it over. It prints the trip's wall time and the thread's own CPU time, at
the median and p95, twice:

- back to back: each trip right after the last, as a loop of them runs in the warm caches of a
  microbenchmark;
- spaced: each trip `--gap` seconds after the last, the machine idle meanwhile, as a script's
  tasks reach a worker (endpoint_relay.py: a task every ~170 ms, ten at a time).

The ratio spaced / back to back is what the same code costs once the processor's caches have
gone cold, on this machine; what a worker holds each task (endpoint_relay.py's "held") is close
to the spaced figure, not to the back-to-back one.

`--way quick` (PostgreSQL) times the one-message admission instead (runner.quick: from an event
loop, over its own connection, the checks in SQL), as the worker tries it first for such a task;
`--way full`, the default, the full one in the admissions' thread.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _setup import database_label, django_with_fresh_database  # noqa: E402

LIMIT = 1_000_000  # tasks a minute, of the member and of the key (checked, never reached)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--trips", type=int, default=300)
    parser.add_argument("--gap", type=float, default=0.15, help="seconds between two spaced trips")
    parser.add_argument("--way", choices=["full", "quick"], default="full")
    args = parser.parse_args()
    os.environ["RUNWARE_WEB_ENDPOINT_TASKS_PER_MINUTE_PER_KEY"] = os.environ["RUNWARE_WEB_RATE_LIMIT_PER_MINUTE"] = str(LIMIT)
    django_with_fresh_database()

    from runware_web.accounts.models import User
    from runware_web.endpoint import keys, services
    from runware_web.endpoint.models import ApiKey, EndpointCall
    from runware_web.money.prices import PriceMemory
    from runware_web.runner import Quick
    from runware_web.runner.admit import admit_and_create_many
    from runware_web.runner.batching import _trip_in_thread
    from runware_web.runner.quick import QuickAdmissions
    from runware_web.runner.state import PRICE_MEMORY_SECONDS
    from runware_web.runner.workers import WORKER_ID
    from runware_web.upstream.models import Task

    member = User.objects.create_user(f"trip-{uuid.uuid4().hex[:8]}", password=uuid.uuid4().hex)
    key, _ = keys.create_key(member, name="benchmark")
    prices = PriceMemory(PRICE_MEMORY_SECONDS * 1000)  # as the runner's, not forgetting during the run
    admit_many = partial(admit_and_create_many, prices=prices)
    caller = services.Caller(key=keys.still_usable(key.pk), base_url="http://portal.example")
    loop = asyncio.new_event_loop()
    quick = QuickAdmissions(prices)

    def request_for(client_uuid: uuid.UUID) -> dict:
        def condition(task: Task) -> tuple[str, list]:
            return ApiKey.objects.quick_condition(
                caller.key.pk, user_id=task.user_id, task_type=task.task_type, model=task.model,
                estimate=task.estimated_cost, client_task_uuid=client_uuid)

        def rows(task: Task) -> list[EndpointCall]:
            return [EndpointCall(task=task, user=task.user, key=caller.key, key_name=caller.key.name,
                                 client_task_uuid=client_uuid, output_type="URL")]

        return {
            "worker": WORKER_ID, "user": caller.key.user, "feature": services.FEATURE, "task_type": "imageInference",
            "params": {"model": "runware:101@1", "positivePrompt": "admission benchmark", "width": 128, "height": 128,
                       "steps": 4},
            "number_results": 4, "estimated_cost": None, "delivery": "sync",
            "record_with": lambda task: services.record_call(task, caller, client_uuid, "URL"),
            "read_ahead": lambda: keys.read_ahead(caller.key.pk), "quick": Quick(condition=condition, rows=rows),
        }

    def admit(way: str = args.way) -> tuple[float, float]:
        request = request_for(uuid.uuid4())
        wall, cpu = time.perf_counter(), time.thread_time()
        if way == "quick":
            outcome = loop.run_until_complete(quick.admit(request))
        else:
            [outcome] = _trip_in_thread([(admit_many, request)], pipelined=True)
        wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
        if not isinstance(outcome, Task):
            raise SystemExit(f"the task was not admitted: {outcome!r}")
        return wall, cpu

    if args.way == "quick" and not quick.takes(request_for(uuid.uuid4())):
        raise SystemExit("the one-message admission is PostgreSQL's: set DATABASE_URL")
    admit("full")  # what such a task costs, learned the full way, as a worker learns it
    for _ in range(30):  # the connection opened and checked, the statements built and prepared: what a worker meets
        admit()
    print(f"database: {database_label()}; the {args.way} admission; {args.trips} trips each way, "
          f"spaced ones {args.gap * 1000:.0f} ms apart")
    figures = {}
    for label, gap in (("back to back", 0.0), ("spaced", args.gap)):
        timed = []
        for _ in range(args.trips):
            if gap:
                time.sleep(gap)
            timed.append(admit())
        walls, cpus = sorted(wall for wall, _ in timed), sorted(cpu for _, cpu in timed)
        figures[label] = statistics.median(walls), statistics.median(cpus)
        print(f"{label:>12}: wall p50 {figures[label][0] * 1000:5.2f} ms, p95 {walls[int(len(walls) * 0.95)] * 1000:5.2f} ms;"
              f" the thread's CPU p50 {figures[label][1] * 1000:5.2f} ms, p95 {cpus[int(len(cpus) * 0.95)] * 1000:5.2f} ms")
    (warm_wall, warm_cpu), (cold_wall, cold_cpu) = figures["back to back"], figures["spaced"]
    print(f"spaced / back to back: wall {cold_wall / warm_wall:.2f}, CPU {cold_cpu / warm_cpu:.2f}")
    loop.run_until_complete(quick.close())
    loop.close()


if __name__ == "__main__":
    main()
