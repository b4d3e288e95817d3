"""What a generation will probably cost, shown before the member pays it.

Prefer what Runware actually charged: the average cost per image of recent finished generations
with the same model, size and steps. Otherwise use a price table that mirrors the simulator's
documented prices (docs/simulator.md). LoRAs, ControlNets and a refiner add their table price.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_UP, Decimal
from typing import Any

from django.db.models import Sum

from runware_web.upstream.models import Task

QUANTUM = Decimal("0.00000001")
RECENT_TASKS = 20

IMAGE_BASE = Decimal("0.0005")  # per image
IMAGE_PER_MEGAPIXEL_STEP = Decimal("0.0001")
IMAGE_PER_LORA = Decimal("0.0002")
IMAGE_PER_CONTROLNET = Decimal("0.0005")
IMAGE_REFINER = Decimal("0.0005")

# Steps a model runs when the request leaves them out (its documented default).
MODEL_DEFAULT_STEPS = {
    "runware:101@1": 28,  # FLUX.1 dev
    "runware:100@1": 4,  # FLUX.1 schnell
    "civitai:101055@128078": 30,  # SDXL 1.0
    "runware:5@1": 28,  # SD 3
}
FALLBACK_STEPS = 20


@dataclass(frozen=True)
class Estimate:
    amount: Decimal
    per_image: Decimal
    images: int
    basis: str  # "recent": from actual costs; "table": from the price table
    samples: int = 0  # how many recent images the average is based on


def estimate(params: dict[str, Any], number_results: int) -> Estimate:
    """The expected cost of a generation with these Runware parameters (sync: uses the database)."""
    images = max(1, int(number_results or 1))
    recent = _recent_cost_per_image(params)
    if recent is not None:
        per_image, samples = recent
        basis = "recent"
        per_image += _extras(params)
    else:
        per_image, samples, basis = table_price(params), 0, "table"
    per_image = per_image.quantize(QUANTUM, rounding=ROUND_UP)
    return Estimate(amount=per_image * images, per_image=per_image, images=images, basis=basis, samples=samples)


def table_price(params: dict[str, Any]) -> Decimal:
    """One image's price from the table."""
    width, height, steps = _shape(params)
    megapixels = Decimal(width * height) / Decimal(1_000_000)
    return IMAGE_BASE + IMAGE_PER_MEGAPIXEL_STEP * megapixels * steps + _extras(params)


def _extras(params: dict[str, Any]) -> Decimal:
    return (
        IMAGE_PER_LORA * len(params.get("lora") or [])
        + IMAGE_PER_CONTROLNET * len(params.get("controlNet") or [])
        + (IMAGE_REFINER if params.get("refiner") else Decimal(0))
    )


def _shape(params: dict[str, Any]) -> tuple[int, int, int]:
    model = str(params.get("model", ""))
    steps = params.get("steps") or MODEL_DEFAULT_STEPS.get(model, FALLBACK_STEPS)
    return int(params.get("width") or 1024), int(params.get("height") or 1024), int(steps)


def _recent_cost_per_image(params: dict[str, Any]) -> tuple[Decimal, int] | None:
    """Average actual cost per image of recent plain generations of the same shape, if any."""
    tasks = Task.objects.filter(
        task_type="imageInference",
        status=Task.Status.DONE,
        model=str(params.get("model", ""))[:200],
        results_received__gt=0,
        params__width=params.get("width"),
        params__height=params.get("height"),
    )
    for extra in ("lora", "controlNet", "refiner"):
        tasks = tasks.exclude(params__has_key=extra)
    if params.get("steps"):
        tasks = tasks.filter(params__steps=params["steps"])
    else:
        tasks = tasks.exclude(params__has_key="steps")
    recent = list(tasks.order_by("-created_at").values_list("pk", flat=True)[:RECENT_TASKS])
    if not recent:
        return None
    totals = Task.objects.filter(pk__in=recent).aggregate(cost=Sum("cost"), images=Sum("results_received"))
    if not totals["images"]:
        return None
    return totals["cost"] / totals["images"], totals["images"]
