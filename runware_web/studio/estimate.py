"""What a generation will probably cost, shown before the member pays it.

Prefer what Runware actually charged: the average cost per image of recent finished generations
with the same model, size and steps. Otherwise use a price table that mirrors the simulator's
documented prices (docs/simulator.md). LoRAs, ControlNets and a refiner add their table price.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_UP, Decimal
from typing import Any

from runware_web.upstream.models import Task

QUANTUM = Decimal("0.00000001")
RECENT_TASKS = 20  # matching generations to average
RECENT_WINDOW = 100  # newest finished generations of the model to look among

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
    """Average actual cost per image of recent plain generations of the same shape, if any.

    Reads the newest finished tasks of the model (an index covers exactly that) and keeps those
    of the same size and steps, without adapters: a bounded read however many tasks there are.
    """
    recent = Task.objects.recently_billed("imageInference", str(params.get("model", "")), RECENT_WINDOW)
    wanted = _size_and_steps(params)
    same = [(cost, count) for task_params, cost, count in recent
            if _is_plain(task_params) and _size_and_steps(task_params) == wanted]
    same = same[:RECENT_TASKS]
    images = sum(count for _, count in same)
    if not images:
        return None
    return sum((cost for cost, _ in same), Decimal(0)) / images, images


def _is_plain(params: dict[str, Any]) -> bool:
    """Without adapters, which cost more (the request's own are added from the table)."""
    return not any(params.get(extra) for extra in ("lora", "controlNet", "refiner"))


def _size_and_steps(params: dict[str, Any]) -> tuple[str, str, str]:
    """As sent: a generation that left steps out ran the model's default."""
    return (str(params.get("width")), str(params.get("height")), str(params.get("steps") or ""))
