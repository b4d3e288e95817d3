"""The price estimate's error, per model architecture of the simulator's catalogue, for default settings.

Every image model of the simulator's catalogue is run once through the portal's runner with only a
model and a prompt (steps and size left to the model), without an estimate from the caller: the
Task row's `estimated_cost` is what admission reserved, and the ledger what the simulator charged.
Prints, per architecture, how many models, the min / median / max of estimate ÷ charge, and how
many were under-estimated (below 1.00: a budget could overrun).

Runs against any checkout, so the same script measures the code before and after a change:

    .venv/bin/python benchmarks/estimate_error.py                    # this tree
    git worktree add /tmp/before HEAD~1
    .venv/bin/python benchmarks/estimate_error.py --tree /tmp/before  # that tree's code, this venv
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
from collections import defaultdict
from decimal import Decimal
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--tree", type=Path, default=Path(__file__).resolve().parent.parent,
                        help="the checkout whose code is measured (default: this one)")
    args = parser.parse_args()
    setup(args.tree.resolve())
    ratios = asyncio.run(measure())
    report(ratios, args.tree)


def setup(tree: Path) -> None:
    """Django with the tree's code on a throw-away SQLite database, against a zero-delay simulator."""
    sys.path.insert(0, str(tree))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    os.environ.setdefault("RUNWARE_WEB_DATA_DIR", tempfile.mkdtemp(prefix="rw-bench-estimate-"))
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("REDIS_URL", None)
    import django
    from django.conf import settings
    from django.core.management import call_command

    from runware_web.simulator.server import run_in_thread

    simulator = run_in_thread(latency=0.0, stream_chunk_delay=0.0)
    django.setup()
    settings.RUNWARE_WS_URL, settings.RUNWARE_HTTP_URL = simulator.ws_url, simulator.http_url
    settings.RATE_LIMIT_PER_MINUTE = 0
    call_command("migrate", interactive=False, verbosity=0)


async def measure() -> dict[str, list[Decimal]]:
    """estimate ÷ charge of one default image of each model, by architecture."""
    from channels.db import database_sync_to_async

    from runware_web.accounts.models import User
    from runware_web.money.models import Charge
    from runware_web.runner import runner
    from runware_web.simulator import catalog

    user = await database_sync_to_async(User.objects.create_user)("bench", password="not used here")
    ratios: dict[str, list[Decimal]] = defaultdict(list)
    for model in catalog.all_models():
        if model.task_type != "imageInference":
            continue
        task = await runner.submit(user=user, feature="bench", task_type="imageInference",
                                   params={"model": model.air, "positivePrompt": "a lighthouse at dusk"})
        await runner.wait(task.pk)
        charged = await database_sync_to_async(
            lambda task=task: sum(Charge.objects.filter(task_id=task.pk).values_list("amount", flat=True),
                                  Decimal(0)))()
        if charged:
            ratios[model.architecture].append(task.estimated_cost / charged)
    await runner.shutdown(grace=15)
    return ratios


def report(ratios: dict[str, list[Decimal]], tree: Path) -> None:
    every = [ratio for values in ratios.values() for ratio in values]
    print(f"estimate ÷ charge, one image with default settings, per architecture ({tree})")
    print(f"{'architecture':<14}{'models':>7}{'min':>8}{'median':>8}{'max':>8}{'under':>7}")
    for architecture, values in sorted(ratios.items()):
        print(row(architecture, values))
    print(row("all", every))


def row(label: str, values: list[Decimal]) -> str:
    under = sum(1 for value in values if value < 1)
    return (f"{label:<14}{len(values):>7}{min(values):>8.2f}{statistics.median(values):>8.2f}"
            f"{max(values):>8.2f}{under:>7}")


if __name__ == "__main__":
    main()
