"""Which text models a conversation can use, and how much of a conversation each one can read.

The choices are the `textInference` models of runware-sdk's bundled registry (the curated
models Runware documents); the simulator knows the same ones.
"""

from __future__ import annotations

from functools import cache

from runware import models as runware_models

DEFAULT_MODEL = "google:gemma@4-31b"

# Context windows in tokens, where we know them; every other model gets DEFAULT_CONTEXT_TOKENS.
# A conversation is trimmed to fit (see `turns.py`), estimating ~4 characters per token.
CONTEXT_TOKENS: dict[str, int] = {
    "anthropic:claude@haiku-4.5": 200_000,
    "anthropic:claude@sonnet-4.6": 200_000,
    "anthropic:claude@opus-4.7": 200_000,
    "anthropic:claude@opus-4.8": 200_000,
    "google:gemini@3-flash": 1_000_000,
    "google:gemini@3.1-flash-lite": 1_000_000,
    "google:gemini@3.1-pro": 1_000_000,
    "google:gemini@3.5-flash": 1_000_000,
    "google:gemma@4-31b": 128_000,
    "openai:gpt@5-mini": 400_000,
    "openai:gpt@5-nano": 400_000,
}
DEFAULT_CONTEXT_TOKENS = 32_000

_VENDORS = {"anthropic": "Anthropic", "google": "Google", "minimax": "MiniMax", "openai": "OpenAI",
            "xai": "xAI", "zai": "Z.ai"}


def label(air: str) -> str:
    """`openai:gpt@5-mini` → `OpenAI gpt 5-mini`, `minimax:m2.7@0` → `MiniMax m2.7`."""
    vendor, _, rest = air.partition(":")
    name, _, version = rest.partition("@")
    version = "" if version == "0" else version
    return f"{_VENDORS.get(vendor, vendor)} {name} {version}".strip()


@cache
def text_models() -> tuple[str, ...]:
    return tuple(sorted(air for air, entry in runware_models.items() if entry.task_type == "textInference"))


def model_choices() -> list[tuple[str, str]]:
    return [(air, label(air)) for air in text_models()]


def context_tokens(air: str) -> int:
    return CONTEXT_TOKENS.get(air, DEFAULT_CONTEXT_TOKENS)
