"""The simulator's price table (USD). Money is Decimal throughout; every cost is
rounded half-up to 8 decimal places, and that rounded amount is both charged and
reported, so `Decimal(str(reported_float))` equals the charge exactly.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

COST_QUANTUM = Decimal("0.00000001")

IMAGE_BASE = Decimal("0.0005")  # per image
IMAGE_PER_MEGAPIXEL_STEP = Decimal("0.0001")  # per megapixel (10^6 px) per step
IMAGE_PER_LORA = Decimal("0.0002")  # per LoRA / LyCORIS / embedding
IMAGE_PER_CONTROLNET = Decimal("0.0005")  # per ControlNet
IMAGE_REFINER = Decimal("0.0005")  # when a refiner is used
CAPTION = Decimal("0.0002")  # per captioned image
PROMPT_ENHANCE_PER_VERSION = Decimal("0.0001")
UPSCALE_BASE = Decimal("0.0005")
UPSCALE_PER_OUTPUT_MEGAPIXEL = Decimal("0.0002")
REMOVE_BACKGROUND = Decimal("0.0006")
IMAGE_MASKING = Decimal("0.0004")
CONTROLNET_PREPROCESS = Decimal("0.0003")
TEXT_PER_PROMPT_TOKEN = Decimal("0.0000005")  # $0.50 per million prompt tokens
TEXT_PER_COMPLETION_TOKEN = Decimal("0.0000015")  # $1.50 per million completion (incl. reasoning) tokens


def quantize(amount: Decimal) -> Decimal:
    return amount.quantize(COST_QUANTUM, rounding=ROUND_HALF_UP)


def megapixels(width: int, height: int) -> Decimal:
    return Decimal(width * height) / Decimal(1_000_000)


def image_cost(
    *, width: int, height: int, steps: int, adapters: int, controlnets: int, refiner: bool
) -> Decimal:
    """One generated image."""
    amount = (
        IMAGE_BASE
        + IMAGE_PER_MEGAPIXEL_STEP * megapixels(width, height) * steps
        + IMAGE_PER_LORA * adapters
        + IMAGE_PER_CONTROLNET * controlnets
        + (IMAGE_REFINER if refiner else 0)
    )
    return quantize(amount)


def upscale_cost(out_width: int, out_height: int) -> Decimal:
    return quantize(UPSCALE_BASE + UPSCALE_PER_OUTPUT_MEGAPIXEL * megapixels(out_width, out_height))


def text_cost(prompt_tokens: int, completion_tokens: int) -> Decimal:
    return quantize(TEXT_PER_PROMPT_TOKEN * prompt_tokens + TEXT_PER_COMPLETION_TOKEN * completion_tokens)


def to_json_number(amount: Decimal) -> float:
    """The JSON number for an amount; its shortest repr parses back to the same Decimal."""
    return float(str(amount))
