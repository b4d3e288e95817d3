"""What a turn sends: the whole conversation as `messages`, trimmed from the oldest to fit the model.

Token counts are estimated (~4 characters per token, plus a little per message): Runware reports
real usage only after the reply. The reply's `maxTokens` and the system prompt are reserved first.
The turn's price estimate comes from money.prices, like every other.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from runware_web.chat.text_models import context_tokens

CHARS_PER_TOKEN = 4
MESSAGE_OVERHEAD_TOKENS = 4

TRIMMED_NOTE = "Older messages were left out to fit the model's limit"


class TooLong(Exception):
    """Even the newest message alone does not fit the model's limit."""


@dataclass(frozen=True)
class Fitted:
    messages: list[dict[str, str]]
    left_out: int


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN) + MESSAGE_OVERHEAD_TOKENS


def fit(history: Sequence[tuple[str, str]], *, model: str, system_prompt: str, max_tokens: int) -> Fitted:
    """Keep the newest (role, content) pairs that fit; the kept part starts with a user message."""
    room = context_tokens(model) - max_tokens - (estimate_tokens(system_prompt) if system_prompt else 0)
    kept: list[tuple[str, str]] = []
    used = 0
    for role, content in reversed(history):
        tokens = estimate_tokens(content)
        if used + tokens > room:
            break
        kept.append((role, content))
        used += tokens
    kept.reverse()
    while kept and kept[0][0] != "user":  # a conversation sent to a model opens with the member
        kept.pop(0)
    if not kept:
        raise TooLong(
            f"This message is too long for the model's limit of {context_tokens(model):,} tokens "
            "(including the reply's max tokens). Shorten it, lower Max tokens, or pick a model with a larger limit."
        )
    messages = [{"role": role, "content": content} for role, content in kept]
    return Fitted(messages=messages, left_out=len(history) - len(kept))
