"""What a task will probably cost, before it is sent; admission reserves this much of a budget.

`estimate()` prefers what Runware actually charged recently for the same kind of output (same
task type, model and shape: size, steps, adapters), and falls back to a price table that mirrors
the prices the simulator documents (docs/simulator.md). The estimate only reserves budget while a
task runs; the ledger always holds what Runware reported.
"""

from __future__ import annotations

import base64
import io
import math
import time
from decimal import ROUND_HALF_UP, ROUND_UP, Decimal
from typing import Any

from runware_web.media.models import Image
from runware_web.media.store import IMAGE_REF_PREFIX
from runware_web.upstream.models import Task

QUANTUM = Decimal("0.00000001")
RECENT_TASKS = 20  # how many recent tasks of the same type and model to learn prices from

# USD, mirroring the simulator's documented price table.
IMAGE_BASE = Decimal("0.0005")
IMAGE_PER_MEGAPIXEL_STEP = Decimal("0.0001")
IMAGE_PER_ADAPTER = Decimal("0.0002")  # each LoRA, LyCORIS or embedding
IMAGE_PER_CONTROLNET = Decimal("0.0005")
IMAGE_REFINER = Decimal("0.0005")
CAPTION = Decimal("0.0002")
PROMPT_ENHANCE_PER_VERSION = Decimal("0.0001")
UPSCALE_BASE = Decimal("0.0005")
UPSCALE_PER_OUTPUT_MEGAPIXEL = Decimal("0.0002")
REMOVE_BACKGROUND = Decimal("0.0006")
IMAGE_MASKING = Decimal("0.0004")
CONTROLNET_PREPROCESS = Decimal("0.0003")
TEXT_PER_PROMPT_TOKEN = Decimal("0.0000005")
TEXT_PER_COMPLETION_TOKEN = Decimal("0.0000015")
TEXT_DEFAULT_COMPLETION_TOKENS = 1024  # when the request sets no maxTokens
UNKNOWN_TASK = Decimal("0.0040")  # a task type the table does not know

DEFAULT_SIZE = 1024
# Steps a model runs when the request leaves them out (its documented default); for a model not
# listed, assume the most any common architecture uses, so the reservation errs on the safe side.
MODEL_DEFAULT_STEPS = {
    "runware:101@1": 28,  # FLUX.1 dev
    "runware:100@1": 4,  # FLUX.1 schnell
    "civitai:101055@128078": 30,  # SDXL 1.0
    "runware:5@1": 28,  # SD 3
}
DEFAULT_STEPS = 30
UPSCALE_ASSUMED_INPUT = 1024  # side of the input image when we cannot know it


def estimate(
    task_type: str, params: dict[str, Any], number_results: int, *, learned: dict[tuple, Decimal | None] | None = None
) -> Decimal:
    """The expected cost of a whole task (all its outputs), as a Decimal in USD.

    `learned`, when given, keeps what recent tasks said per model and shape, so that estimating a
    batch of similar tasks reads them once.
    """
    count = max(1, int(number_results or 1))
    key = (task_type, str(params.get("model", "")), shape(task_type, params))
    if learned is not None and key in learned:
        recent = learned[key]
    else:
        recent = recent_cost_per_output(task_type, params)
        if learned is not None:
            learned[key] = recent
    per_output = recent if recent is not None else table_price(task_type, params)
    return (per_output * count).quantize(QUANTUM, rounding=ROUND_UP)


class PriceMemory:
    """What `estimate()` learned from recent tasks, kept for a few seconds.

    The runner estimates every task it admits, many a second when the portal is busy; reading the
    recent tasks of one kind of output once every few seconds gives the same estimate for much less.
    `current()` is the mapping to pass as `learned`.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._learned: dict[tuple, Decimal | None] = {}
        self._since = time.monotonic()

    def current(self) -> dict[tuple, Decimal | None]:
        now = time.monotonic()
        if now - self._since > self.seconds:
            self._learned, self._since = {}, now
        return self._learned


def recent_cost_per_output(task_type: str, params: dict[str, Any]) -> Decimal | None:
    """The highest cost per output Runware recently reported for tasks of the same shape, if any.

    Reads the newest finished tasks of the same type and model (an index covers exactly that),
    whose `cost` is the sum of their ledger rows.
    """
    wanted = shape(task_type, params)
    recent = Task.objects.recently_billed(task_type, str(params.get("model", "")), RECENT_TASKS)
    amounts = [cost / count for task_params, cost, count in recent if shape(task_type, task_params) == wanted]
    return max(amounts).quantize(QUANTUM, rounding=ROUND_UP) if amounts else None


def shape(task_type: str, params: dict[str, Any]) -> tuple:
    """What, besides the model, decides the price of one output."""
    if task_type == "imageInference":
        return (
            _int(params.get("width"), DEFAULT_SIZE),
            _int(params.get("height"), DEFAULT_SIZE),
            _int(params.get("steps"), MODEL_DEFAULT_STEPS.get(str(params.get("model", "")), DEFAULT_STEPS)),
            _adapters(params),
            len(params.get("controlNet") or []),
            bool(params.get("refiner")),
        )
    if task_type in {"upscale", "imageUpscale"}:
        return (_number(params.get("upscaleFactor"), 2.0), _input_size(params))
    if task_type == "textInference":
        settings = params.get("settings") or {}
        return (_int(settings.get("maxTokens"), 0),)
    return ()


def table_price(task_type: str, params: dict[str, Any]) -> Decimal:
    """One output's price from the table, when there is no recent charge to learn from."""
    if task_type == "imageInference":
        width, height, steps, adapters, controlnets, refiner = shape(task_type, params)
        amount = (
            IMAGE_BASE
            + IMAGE_PER_MEGAPIXEL_STEP * _megapixels(width, height) * steps
            + IMAGE_PER_ADAPTER * adapters
            + IMAGE_PER_CONTROLNET * controlnets
            + (IMAGE_REFINER if refiner else 0)
        )
        return amount.quantize(QUANTUM, rounding=ROUND_HALF_UP)  # as Runware rounds each charge
    if task_type in {"upscale", "imageUpscale"}:
        factor = _number(params.get("upscaleFactor"), 2.0)
        width, height = _input_size(params) or (UPSCALE_ASSUMED_INPUT, UPSCALE_ASSUMED_INPUT)
        out = _megapixels(round(width * factor), round(height * factor))
        return (UPSCALE_BASE + UPSCALE_PER_OUTPUT_MEGAPIXEL * out).quantize(QUANTUM, rounding=ROUND_HALF_UP)
    if task_type == "textInference":
        return _text_price(params)
    fixed = {
        "caption": CAPTION,
        "imageCaption": CAPTION,
        "promptEnhance": PROMPT_ENHANCE_PER_VERSION,
        "removeBackground": REMOVE_BACKGROUND,
        "imageBackgroundRemoval": REMOVE_BACKGROUND,
        "imageMasking": IMAGE_MASKING,
        "controlNetPreprocess": CONTROLNET_PREPROCESS,
        "imageControlNetPreProcess": CONTROLNET_PREPROCESS,
    }
    return fixed.get(task_type, UNKNOWN_TASK)


def _text_price(params: dict[str, Any]) -> Decimal:
    settings = params.get("settings") or {}
    words = sum(len(str(message.get("content", "")).split()) + 3 for message in params.get("messages") or []
                if isinstance(message, dict))
    words += len(str(settings.get("systemPrompt", "")).split())
    completion = _int(settings.get("maxTokens"), TEXT_DEFAULT_COMPLETION_TOKENS)
    # Tokens are roughly 4/3 of words; round up so that the estimate errs on the safe side.
    prompt_tokens = math.ceil(words * 4 / 3)
    return TEXT_PER_PROMPT_TOKEN * prompt_tokens + TEXT_PER_COMPLETION_TOKEN * completion


def _input_size(params: dict[str, Any]) -> tuple[int, int] | None:
    """The size of an input image sent inline (a data URI), read from its header only."""
    value = (params.get("inputs") or {}).get("image") or params.get("inputImage")
    if isinstance(value, str) and value.startswith(IMAGE_REF_PREFIX):
        size = Image.objects.filter(pk=value.removeprefix(IMAGE_REF_PREFIX)).values_list("width", "height").first()
        return tuple(size) if size else None
    if not isinstance(value, str) or not value.startswith("data:") or "," not in value:
        return None
    try:
        from PIL import Image as PILImage

        encoded = value.split(",", 1)[1][:65536]
        header = base64.b64decode(encoded[: len(encoded) // 4 * 4])
        with PILImage.open(io.BytesIO(header)) as picture:
            return picture.size
    except Exception:  # not an image we can read: fall back to the assumed size
        return None


def _number(value: Any, default: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return number if number > 0 else default


def _adapters(params: dict[str, Any]) -> int:
    return sum(len(params.get(key) or []) for key in ("lora", "lycoris", "embeddings"))


def _megapixels(width: int, height: int) -> Decimal:
    return Decimal(width * height) / Decimal(1_000_000)


def _int(value: Any, default: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return default
    return number if number > 0 else default
