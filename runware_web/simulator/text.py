"""Deterministic, plausible text for textInference and promptEnhance.

Tokens are whitespace-led words (`re.findall(r"\\s*\\S+")`): crude, but stable, so usage,
`maxTokens` cut-offs and streaming chunk boundaries are reproducible.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

_TOKEN = re.compile(r"\s*\S+")
_STOPWORDS = frozenset(
    "a an the and or but if of to in on at for with about from by is are was were be been it this that "
    "these those me my you your we our i can could would should please tell give show write explain "
    "how what why when where which who whom do does did make list some any into as than then so very "
    "just also more most".split()
)
# Words that ask for a format rather than name the subject.
_FORMAT_WORDS = frozenset(
    "list steps bullet bullets ideas options tips top checklist code python function script snippet "
    "javascript sql bash program implement short quick brief example examples".split()
)
_MESSAGE_OVERHEAD_TOKENS = 3


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def count_tokens(text: str) -> int:
    return len(tokens(text))


def _stable_int(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256("\x1f".join(parts).encode()).digest()[:8], "big")


def keywords(text: str, limit: int = 4) -> list[str]:
    words = re.findall(r"[A-Za-z][A-Za-z0-9+#'-]*", text)
    result: list[str] = []
    for word in words:
        lowered = word.lower().strip("'")
        if lowered in _STOPWORDS or lowered in _FORMAT_WORDS or len(lowered) <= 2:
            continue
        if lowered not in result:
            result.append(lowered)
    return result[:limit]


# ------------------------------------------------------------------ chat replies


@dataclass(frozen=True)
class Reply:
    text: str
    reasoning: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int  # visible + reasoning
    reasoning_tokens: int

    def usage(self) -> dict[str, object]:
        usage: dict[str, object] = {
            "promptTokens": self.prompt_tokens,
            "completionTokens": self.completion_tokens,
            "totalTokens": self.prompt_tokens + self.completion_tokens,
        }
        if self.reasoning_tokens:
            usage["thinkingTokens"] = self.reasoning_tokens
            usage["completionTokensDetails"] = {"reasoningTokens": self.reasoning_tokens}
        return usage


def message_text(content: object) -> str:
    """Text of a message `content`: a string, or a list of parts with `text`."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def prompt_tokens(messages: list[dict[str, object]], system_prompt: str | None) -> int:
    total = count_tokens(system_prompt or "") + (_MESSAGE_OVERHEAD_TOKENS if system_prompt else 0)
    for message in messages:
        total += count_tokens(message_text(message.get("content"))) + _MESSAGE_OVERHEAD_TOKENS
    return total


def compose_reply(
    *,
    last_user: str,
    model_name: str,
    prompt_token_count: int,
    max_tokens: int | None,
    reasoning: bool,
    variant: int = 0,
) -> Reply:
    """The reply to `last_user`; `variant` picks among equivalent phrasings (one per result)."""
    full = _answer(last_user, model_name, variant)
    thinking = _reasoning(last_user) if reasoning else ""
    pieces = tokens(full)
    finish_reason = "stop"
    if max_tokens is not None and len(pieces) > max_tokens:
        pieces = pieces[:max_tokens]
        finish_reason = "length"
    reasoning_count = count_tokens(thinking)
    return Reply(
        text="".join(pieces),
        reasoning=thinking,
        finish_reason=finish_reason,
        prompt_tokens=prompt_token_count,
        completion_tokens=len(pieces) + reasoning_count,
        reasoning_tokens=reasoning_count,
    )


def _wants(text: str, *needles: str) -> bool:
    lowered = text.lower()
    return any(re.search(rf"\b{re.escape(n)}\b", lowered) for n in needles)


def _topic(text: str) -> str:
    words = keywords(text, 5)
    return " ".join(words) if words else "your message"


def _answer(message: str, model_name: str, variant: int) -> str:
    """A reply that responds to the message: greeting, list, code block and/or explanation."""
    if not message.strip():
        return "I didn't receive any text. Could you tell me what you would like to talk about?"
    if _wants(message, "hello", "hi", "hey", "hola", "bonjour") and count_tokens(message) <= 6:
        return (
            f"Hello! I'm {model_name}, answering from the Runware simulator. "
            "Ask me anything — I can explain a topic, make a list or write some code."
        )
    topic = _topic(message)
    words = keywords(message, 4) or ["idea"]
    seed = _stable_int(message) + variant
    openers = (
        f"Here is a concise answer about {topic}.",
        f"Good question about {topic} — let's break it down.",
        f"Let me walk you through {topic}.",
    )
    parts = [openers[seed % len(openers)]]
    parts.append(
        f"When people think about {words[0]}, the key is to start from the goal and work backwards: "
        f"decide what a good outcome looks like, then choose the simplest approach that gets there."
    )
    if _wants(message, "list", "steps", "bullet", "bullets", "ideas", "options", "tips", "top", "checklist"):
        parts.append(_markdown_list(words, seed))
    if _wants(
        message,
        "code",
        "python",
        "function",
        "script",
        "snippet",
        "javascript",
        "js",
        "sql",
        "bash",
        "program",
        "implement",
    ):
        parts.append(_code_block(message, words))
    parts.append(
        f"In short: keep {words[-1]} simple, measure the result, and iterate. "
        "Tell me if you want more detail on any part."
    )
    return "\n\n".join(parts)


def _markdown_list(words: list[str], seed: int) -> str:
    verbs = ("Clarify", "Sketch", "Prototype", "Review", "Measure", "Refine", "Document", "Share")
    start = seed % len(verbs)
    items = []
    for index in range(5):
        verb = verbs[(start + index) % len(verbs)]
        subject = words[index % len(words)]
        items.append(f"{index + 1}. **{verb}** the {subject} — one small, concrete step at a time.")
    return "\n".join(items)


def _code_block(message: str, words: list[str]) -> str:
    name = re.sub(r"[^a-z0-9_]", "_", "_".join(words[:2]).lower()) or "solve"
    if _wants(message, "javascript", "js", "typescript", "node"):
        return (
            f"```javascript\nfunction {_camel(name)}(items) {{\n"
            "  return items.filter(Boolean).map((item) => String(item).trim());\n}\n```"
        )
    if _wants(message, "sql", "query", "database"):
        return (
            f"```sql\nSELECT id, name, created_at\nFROM {name}\n"
            "WHERE created_at >= CURRENT_DATE - INTERVAL '7 days'\nORDER BY created_at DESC;\n```"
        )
    if _wants(message, "bash", "shell", "terminal"):
        return f'```bash\nfor file in *.txt; do\n  echo "processing $file ({name})"\ndone\n```'
    return (
        f"```python\ndef {name}(items: list[str]) -> list[str]:\n"
        '    """Return the non-empty items, stripped."""\n'
        "    return [item.strip() for item in items if item.strip()]\n```"
    )


def _camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _reasoning(message: str) -> str:
    topic = _topic(message)
    plan = []
    if _wants(message, "list", "steps", "ideas", "options", "tips"):
        plan.append("a numbered list")
    if _wants(message, "code", "python", "function", "script", "javascript", "sql", "bash"):
        plan.append("a short code example")
    plan_text = " and ".join(plan) or "a few clear paragraphs"
    return (
        f"The user is asking about {topic}. I should answer directly, keep it practical, "
        f"and structure the response as {plan_text}. Let me make sure the key points are covered "
        "before writing the final answer."
    )


def stream_pieces(text: str) -> list[str]:
    """Split text into streaming chunks of 1–3 tokens (a fixed pattern, so chunking is reproducible)."""
    pattern = (1, 2, 1, 3, 2)
    pieces, words, index = [], tokens(text), 0
    while index < len(words):
        size = pattern[len(pieces) % len(pattern)]
        pieces.append("".join(words[index : index + size]))
        index += size
    trailing = text[len("".join(words)) :]
    if trailing and pieces:
        pieces[-1] += trailing
    return pieces


# ------------------------------------------------------------------- promptEnhance

_STYLES = (
    "highly detailed, cinematic lighting, shallow depth of field, 35mm photograph",
    "digital painting, vibrant colours, dramatic composition, concept art",
    "soft natural light, muted pastel palette, minimalist composition",
    "golden hour, volumetric fog, ultra wide angle, epic scale",
    "studio lighting, sharp focus, intricate textures, 8k",
    "watercolour illustration, delicate brush strokes, dreamy atmosphere",
    "moody film noir, high contrast, deep shadows, rain-soaked streets",
    "isometric 3D render, clean shapes, soft global illumination",
    "ukiyo-e woodblock print, flat colours, bold outlines",
    "analog film photo, grainy texture, warm tones, nostalgic mood",
)
_SUBJECT_PREFIXES = ("", "A striking view of ", "An atmospheric scene of ", "A beautiful depiction of ")


def enhance_prompt(prompt: str, versions: int, max_length: int, offset: int) -> list[str]:
    """`versions` distinct enhanced prompts, each at most `max_length` characters.

    `offset` rotates the style pool so that asking again gives fresh suggestions.
    """
    base = prompt.strip().rstrip(".,;") or "an image"
    candidates = []
    for index in range(len(_STYLES) * len(_SUBJECT_PREFIXES)):
        style = _STYLES[(offset + index) % len(_STYLES)]
        prefix = _SUBJECT_PREFIXES[(index // len(_STYLES)) % len(_SUBJECT_PREFIXES)]
        subject = prefix + (base[0].lower() + base[1:] if prefix else base)
        candidates.append(_fit(f"{subject}, {style}", max_length))
    result: list[str] = []
    for candidate in candidates:
        if candidate not in result:
            result.append(candidate)
        if len(result) == versions:
            return result
    for index in range(versions - len(result)):  # very small max_length: force distinct strings
        result.append(_fit(f"{index + 1} {base}", max_length))
    return result


def _fit(text: str, max_length: int) -> str:
    if len(text) <= max_length:
        return text
    cut = text[:max_length]
    space = cut.rfind(" ")
    return (cut[:space] if space >= max_length // 2 else cut).rstrip(" ,")
