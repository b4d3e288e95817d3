"""The one price source: what a task will probably cost, before it is sent.

Every estimate a member is shown (the studio's figure, a tool run's, a chat turn's) is computed here,
and the feature passes that same Decimal to `runner.submit(estimated_cost=…)`: what is shown is what
admission reserves. The runner estimates here too for a task that comes without an estimate.

An estimate prefers what Runware actually charged recently for the same kind of output (same task
type, model and shape) and otherwise reads a price table that mirrors the prices the simulator
documents (docs/simulator.md). It errs on the safe side: a reply is priced at its `maxTokens`, and
what is not known (a model's defaults or token prices, an input's size) is assumed at the dear end.
An estimate only reserves budget while a task runs; the ledger always holds what Runware reported.

A generation that leaves out its width, height or steps runs with its model's own defaults. Those
come from Runware's catalogue (`upstream.models_catalogue.model_defaults`, async and cached): the
caller looks them up before it estimates (before admission, never inside its transaction) and
passes them as `defaults=`; without them the model is priced with UNKNOWN_MODEL_DEFAULTS.

Video, audio and 3D are priced by Runware's own catalogue when it says (`upstream.content`: what a
second, a thousand characters or a model costs, cached for an hour; the last known price while the
catalogue cannot be reached), else from recent charges and the table as above. The caller looks the
price up before it estimates (`aquote()` does both) and passes it as `catalogue=`; the estimate says
which it rests on (`Estimate.source`), for the page to show next to the figure.
"""

from __future__ import annotations

import base64
import binascii
import io
import math
import time
from collections import ChainMap
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, ROUND_UP, Decimal
from typing import Any

from channels.db import database_sync_to_async
from PIL import Image as PILImage

from runware_web.lib.kinds import current_type
from runware_web.upstream.content import CataloguePrice, model_pricing
from runware_web.upstream.models import Task
from runware_web.upstream.models_catalogue import ModelDefaults

QUANTUM = Decimal("0.00000001")
RECENT_WINDOW = 100  # newest finished tasks of a type and model to look among
RECENT_MATCHES = 20  # of those, how many of the same shape to learn from

# USD, as the simulator's price table (docs/simulator.md, "Prices").
IMAGE_BASE = Decimal("0.0005")  # per image
IMAGE_PER_MEGAPIXEL_STEP = Decimal("0.0001")
IMAGE_PER_ADAPTER = Decimal("0.0002")  # each LoRA, LyCORIS or embedding
IMAGE_PER_CONTROLNET = Decimal("0.0005")
IMAGE_REFINER = Decimal("0.0005")
CAPTION = Decimal("0.0002")  # per captioned image
PROMPT_ENHANCE_PER_VERSION = Decimal("0.0001")
UPSCALE_BASE = Decimal("0.0005")
UPSCALE_PER_OUTPUT_MEGAPIXEL = Decimal("0.0002")
REMOVE_BACKGROUND = Decimal("0.0006")
IMAGE_MASKING = Decimal("0.0004")
CONTROLNET_PREPROCESS = Decimal("0.0003")
UNKNOWN_TASK = Decimal("0.0040")  # per result of a task type the table does not know


@dataclass(frozen=True)
class VideoPrice:
    """What a video model charges per second of video, and the length it makes when not told."""

    per_second: Decimal
    default_duration: int


# The simulator's video models (docs/simulator.md, "Video, audio and 3D"): a video costs its model's
# price per second × its duration. A model not listed: priced like the dearest one listed.
VIDEO_PRICES: dict[str, VideoPrice] = {
    "klingai:kling-video@3-pro": VideoPrice(Decimal("0.098"), 5),
    "klingai:kling-video@3-standard": VideoPrice(Decimal("0.056"), 5),
    "google:3@2": VideoPrice(Decimal("0.4"), 8),
    "google:3@3": VideoPrice(Decimal("0.15"), 8),
    "google:veo@3.1-lite": VideoPrice(Decimal("0.08"), 8),
    "bytedance:seedance@2.0": VideoPrice(Decimal("0.06"), 5),
    "bytedance:seedance@2.0-fast": VideoPrice(Decimal("0.03"), 5),
    "bytedance:2@1": VideoPrice(Decimal("0.05"), 5),
    "minimax:4@1": VideoPrice(Decimal("0.045"), 6),
    "lightricks:ltx@2.3-fast": VideoPrice(Decimal("0.02"), 6),
    "alibaba:wan@2.6": VideoPrice(Decimal("0.05"), 5),
}
UNKNOWN_VIDEO_MODEL = VideoPrice(Decimal("0.4"), 10)


@dataclass(frozen=True)
class AudioPrice:
    """What an audio model charges: speech per 1000 characters of its text; music and sound per
    second, with the length it makes when not told."""

    per_unit: Decimal
    speech: bool
    default_duration: int = 0


# The simulator's audio models (docs/simulator.md, "Video, audio and 3D"). A model not listed: a
# speech request (one with `speech`) priced like the dearest voice, anything else like the dearest
# music per second for the longest default.
AUDIO_PRICES: dict[str, AudioPrice] = {
    "minimax:speech@2.8": AudioPrice(Decimal("0.06"), speech=True),
    "elevenlabs:25@1": AudioPrice(Decimal("0.05"), speech=True),
    "inworld:tts@2": AudioPrice(Decimal("0.01"), speech=True),
    "xai:tts@0": AudioPrice(Decimal("0.015"), speech=True),
    "google:gemini@3.1-flash-tts": AudioPrice(Decimal("0.02"), speech=True),
    "alibaba:qwen@3-tts-1.7b-customvoice": AudioPrice(Decimal("0.008"), speech=True),
    "alibaba:qwen@3-tts-1.7b-voicedesign": AudioPrice(Decimal("0.01"), speech=True),
    "minimax:music@2.6": AudioPrice(Decimal("0.001"), speech=False, default_duration=60),
    "elevenlabs:1@1": AudioPrice(Decimal("0.002"), speech=False, default_duration=30),
    "runware:ace-step@v1.5-turbo": AudioPrice(Decimal("0.0002"), speech=False, default_duration=30),
    "mirelo:1@1": AudioPrice(Decimal("0.001"), speech=False, default_duration=10),
}
UNKNOWN_SPEECH_MODEL = AudioPrice(Decimal("0.06"), speech=True)
UNKNOWN_SOUND_MODEL = AudioPrice(Decimal("0.002"), speech=False, default_duration=60)

# The simulator's 3D models: a flat price per model. A model not listed: the dearest listed.
THREE_D_PRICES: dict[str, Decimal] = {
    "tencent:hunyuan-3d@3.1-rapid": Decimal("0.1"),
    "tencent:hunyuan-3d@3.1-pro": Decimal("0.3"),
    "microsoft:trellis-2@4b": Decimal("0.0256"),
    "meta:sam@3d": Decimal("0.05"),
    "hyper3d:rodin@gen-2": Decimal("0.4"),
    "meshy:meshy@6": Decimal("0.2"),
    "tripo:v3.1@0": Decimal("0.2"),
}
UNKNOWN_3D_MODEL = Decimal("0.4")

# A model whose defaults are unknown (Runware does not know it, or cannot be reached and nothing is
# cached): the most steps and the largest default size any architecture runs with (docs/simulator.md:
# sdxl 30 steps; 1024 × 1024 for every architecture but sd1x's 512 × 512).
UNKNOWN_SIDE, UNKNOWN_STEPS = 1024, 30
UNKNOWN_MODEL_DEFAULTS = ModelDefaults(width=UNKNOWN_SIDE, height=UNKNOWN_SIDE, steps=UNKNOWN_STEPS)
# An image-to-image request without a size is sized like its seed image, whose size the estimate
# does not read: the largest side Runware accepts.
LARGEST_SIDE = 2048
ASSUMED_INPUT_SIDE = 1024  # side of an input image whose size the caller could not say


@dataclass(frozen=True)
class TokenPrice:
    """What a text model charges per token, in USD."""

    prompt: Decimal
    completion: Decimal  # reasoning tokens included


# $0.50 per million prompt tokens, $1.50 per million completion tokens.
SIMULATED_TEXT = TokenPrice(prompt=Decimal("0.0000005"), completion=Decimal("0.0000015"))
# The text models of runware-sdk's registry (those chat offers). The simulator charges each of them
# the same; against Runware itself, put each model's own rate here.
TEXT_TOKEN_PRICES: dict[str, TokenPrice] = dict.fromkeys(
    (
        "anthropic:claude@fable-5", "anthropic:claude@haiku-4.5", "anthropic:claude@opus-4.7",
        "anthropic:claude@opus-4.8", "anthropic:claude@sonnet-4.6",
        "google:gemini@3-flash", "google:gemini@3.1-flash-lite", "google:gemini@3.1-pro",
        "google:gemini@3.5-flash", "google:gemma@4-31b",
        "minimax:m2.7@0", "minimax:m2.7@highspeed", "minimax:m3@0",
        "openai:gpt@5-mini", "openai:gpt@5-nano", "openai:gpt@5.4", "openai:gpt@5.4-mini",
        "openai:gpt@5.4-nano", "openai:gpt@5.4-pro", "openai:gpt@5.5",
        "xai:grok@4.3", "zai:glm@5.1",
    ),
    SIMULATED_TEXT,
)
# A text model not listed: priced like the dearest frontier models ($15 / $75 per million tokens).
UNKNOWN_TEXT_MODEL = TokenPrice(prompt=Decimal("0.000015"), completion=Decimal("0.000075"))
TEXT_DEFAULT_COMPLETION_TOKENS = 1024  # a reply's length when the request sets no maxTokens
MESSAGE_OVERHEAD_TOKENS = 4  # each message's role and framing

Size = tuple[int, int]


@dataclass(frozen=True)
class Estimate:
    """What a task will probably cost, and what that rests on (the studio shows both)."""

    amount: Decimal  # the whole task: what admission reserves
    per_result: Decimal
    results: int
    # "catalogue": Runware's catalogue said so (as of `as_of`); "last-known": what it said last (as of
    # `as_of`), as it cannot be reached now; "recent": what Runware charged lately; "table": built in
    basis: str
    samples: int = 0  # how many recent results the recent price rests on
    as_of: datetime | None = None

    @property
    def source(self) -> str:
        """Where the price comes from, as the page says it after the figure (not for "recent",
        whose wording names the feature's results)."""
        if self.basis == "catalogue" and self.as_of is not None:
            return f"from Runware's catalogue, as of {self.as_of:%H:%M} UTC"
        if self.basis == "last-known" and self.as_of is not None:
            return (f"at the last known price ({self.as_of.day} {self.as_of:%b %H:%M} UTC): "
                    "Runware's catalogue could not be reached")
        return "from the built-in price table"


@dataclass(frozen=True)
class Recent:
    """What recent charges say one result of a request's shape costs."""

    per_result: Decimal
    samples: int


Learned = MutableMapping[tuple, Recent | None]


def estimate(
    task_type: str,
    params: dict[str, Any],
    number_results: int,
    *,
    defaults: ModelDefaults | None = None,
    input_size: Size | None = None,
    learned: Learned | None = None,
    catalogue: CataloguePrice | None = None,
    read_recent: bool = True,
) -> Decimal:
    """The expected cost of a whole task (all its results) in USD: what admission reserves.

    `defaults` are the model's own (`upstream.models_catalogue.model_defaults`; None: unknown, priced
    at the dear end). `input_size` is the (width, height) of the task's input image, when the caller
    knows it (an upscale's price follows it). `learned`, when given, keeps what recent tasks said
    per model and shape, so that estimating many similar tasks reads them once. `catalogue` is the
    model's price in Runware's catalogue (`upstream.content.model_pricing`), when looked up.
    `read_recent=False`: never read the database; raises NotLearned when `learned` does not hold
    what recent tasks of the kind cost (for a caller that must not wait on the database).
    """
    return quote(task_type, params, number_results, defaults=defaults, input_size=input_size,
                 learned=learned, catalogue=catalogue, read_recent=read_recent).amount


class NotLearned(LookupError):
    """What recent tasks of a kind cost is not in memory, and the caller may not read it."""


def quote(
    task_type: str,
    params: dict[str, Any],
    number_results: int,
    *,
    defaults: ModelDefaults | None = None,
    input_size: Size | None = None,
    learned: Learned | None = None,
    catalogue: CataloguePrice | None = None,
    input_seconds: float | None = None,
    read_recent: bool = True,
) -> Estimate:
    """`estimate()`, with what it rests on: Runware's catalogue, recent charges, or the table.
    `input_seconds` is the length of a tool's input video (`inputs.video`), which its price follows."""
    params = with_model_defaults(task_type, params, defaults)
    # Runware makes as many results as the parameters ask for, whatever the caller counted.
    results = max(1, int(number_results or 1), _int(params.get("numberResults"), 1))
    listed = catalogue_price(task_type, params, catalogue, input_seconds=input_seconds)
    if listed is not None and catalogue is not None:
        per_result = listed.quantize(QUANTUM, rounding=ROUND_UP)
        return Estimate(amount=per_result * results, per_result=per_result, results=results,
                        basis="catalogue" if catalogue.reachable else "last-known", as_of=catalogue.as_of)
    if _on_video(task_type, params):
        # A tool on a video has no price of its own in the table, and recent ones ran on videos of
        # other lengths: with no catalogue price ever seen, the dear end per second of this one.
        seconds = Decimal(str(input_seconds or UNKNOWN_VIDEO_MODEL.default_duration))
        per_result = (UNKNOWN_VIDEO_MODEL.per_second * seconds).quantize(QUANTUM, rounding=ROUND_UP)
        return Estimate(amount=per_result * results, per_result=per_result, results=results, basis="table")
    key = (task_type, _model(params), _shape(task_type, params, input_size))
    if learned is not None and key in learned:
        recent = learned[key]
    elif not read_recent:
        raise NotLearned(key)
    else:
        recent = recent_price(task_type, params, input_size, defaults=defaults)
        if learned is not None:
            learned[key] = recent
    if recent is None:
        per_result, basis, samples = table_price(task_type, params, input_size), "table", 0
    else:
        per_result, basis, samples = recent.per_result, "recent", recent.samples
    per_result = per_result.quantize(QUANTUM, rounding=ROUND_UP)
    return Estimate(amount=per_result * results, per_result=per_result, results=results, basis=basis,
                    samples=samples)


async def aquote(
    task_type: str,
    params: dict[str, Any],
    number_results: int,
    *,
    input_size: Size | None = None,
    learned: Learned | None = None,
    input_seconds: float | None = None,
) -> Estimate:
    """`quote()` for async entry points, with the model's catalogue price looked up first (cached; at
    most one bounded upstream call): before admission, never inside it. Pass `estimate.amount` on
    to `runner.submit` so that admission reserves what the page shows."""
    catalogue = await model_pricing(_model(params)) if uses_catalogue_price(task_type, params) else None
    return await database_sync_to_async(quote)(task_type, params, number_results, input_size=input_size,
                                               learned=learned, catalogue=catalogue,
                                               input_seconds=input_seconds)


class PriceMemory:
    """What `estimate()` learned from recent tasks, kept for a few seconds.

    The runner estimates every task it admits, many a second when the portal is busy; reading the
    recent tasks of one kind of output once every few seconds gives the same estimate for much less.
    `current()` is the mapping to pass as `learned`.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._learned: dict[tuple, Recent | None] = {}
        self._before: dict[tuple, Recent | None] = {}  # what the period before learned
        self._since = time.monotonic()

    def current(self) -> Learned:
        now = time.monotonic()
        if now - self._since > self.seconds:  # the period before is kept only if it just ended
            self._before = self._learned if now - self._since <= 2 * self.seconds else {}
            self._learned, self._since = {}, now
        return self._learned

    def lately(self) -> Learned:
        """What this period learned, else the period before: for a caller that may not read the
        database (runner.quick, with read_recent=False). With `current()` alone, each time the
        memory starts again such a caller finds no price until a caller that may read has read it,
        and each of its tasks meanwhile goes the way that reads (the full admission). What it
        learns goes into this period's."""
        return ChainMap(self.current(), self._before)


# ---------------------------------------------------------------------------- the catalogue

CATALOGUE_PRICED = frozenset({"videoInference", "audioInference", "3dInference"})
# Tools that take a video (`inputs.video`): priced per second of that video (docs/simulator.md).
VIDEO_TOOLS = frozenset({"caption", "upscale", "removeBackground"})
INPUT_SECONDS_QUANTUM = Decimal("0.01")  # Runware reads an input video's length to 0.01 s


def uses_catalogue_price(task_type: str, params: dict[str, Any] | None = None) -> bool:
    """Whether Runware's catalogue prices this task (then pass `catalogue`): a video, clip or 3D
    model, or a tool run on a video."""
    return current_type(task_type) in CATALOGUE_PRICED or _on_video(task_type, params or {})


def _on_video(task_type: str, params: dict[str, Any]) -> bool:
    return current_type(task_type) in VIDEO_TOOLS and bool((params.get("inputs") or {}).get("video"))


def catalogue_price(
    task_type: str, params: dict[str, Any], catalogue: CataloguePrice | None, *, input_seconds: float | None = None
) -> Decimal | None:
    """One result's price by the catalogue's unit prices; None when it does not say (or for a type
    of task it does not price here). A tool on a video costs its price per second × the input's
    `input_seconds` (rounded up to 0.01 s); None when its length is not known."""
    kind = current_type(task_type)
    if catalogue is not None and _on_video(task_type, params):
        if catalogue.per_second is None or not input_seconds or input_seconds <= 0:
            return None
        seconds = Decimal(str(input_seconds)).quantize(INPUT_SECONDS_QUANTUM, rounding=ROUND_UP)
        return catalogue.per_second * seconds
    if catalogue is None or kind not in CATALOGUE_PRICED:
        return None
    if kind == "videoInference":
        if catalogue.per_second is None:
            return None
        default = VIDEO_PRICES.get(_model(params), UNKNOWN_VIDEO_MODEL).default_duration
        return catalogue.per_second * Decimal(str(_number(params.get("duration"), default)))
    if kind == "audioInference":
        audio = _audio_model_price(params)
        if audio.speech:
            if catalogue.per_thousand_characters is None:
                return None
            text = str((params.get("speech") or {}).get("text") or "")
            amount = catalogue.per_thousand_characters * len(text) / 1000
        else:
            if catalogue.per_second is None:
                return None
            amount = catalogue.per_second * Decimal(str(_number(params.get("duration"), audio.default_duration)))
        return amount.quantize(QUANTUM, rounding=ROUND_HALF_UP)  # as Runware rounds each charge
    return catalogue.per_result


# ---------------------------------------------------------------------------- the table

Pricer = Callable[[dict[str, Any], Size | None], Decimal]


def table_price(task_type: str, params: dict[str, Any], input_size: Size | None = None) -> Decimal:
    """One result's price from the table, when there is no recent charge to learn from."""
    pricer = TABLE.get(current_type(task_type))
    return pricer(params, input_size) if pricer is not None else UNKNOWN_TASK


def _image_price(params: dict[str, Any], input_size: Size | None) -> Decimal:
    width, height, steps = _image_shape(params)
    per_step = IMAGE_PER_MEGAPIXEL_STEP * _megapixels(width, height)
    amount = IMAGE_BASE + per_step * steps + _image_extras(params)
    return amount.quantize(QUANTUM, rounding=ROUND_HALF_UP)  # as Runware rounds each charge


def _image_extras(params: dict[str, Any]) -> Decimal:
    """What adapters, ControlNets and a refiner add to each image."""
    adapters, controlnets, refiner = _image_extra_counts(params)
    refined = IMAGE_REFINER if refiner else Decimal(0)
    return IMAGE_PER_ADAPTER * adapters + IMAGE_PER_CONTROLNET * controlnets + refined


def _upscale_price(params: dict[str, Any], input_size: Size | None) -> Decimal:
    factor = _number(params.get("upscaleFactor"), 2.0)
    width, height = input_size or _inline_size(params) or (ASSUMED_INPUT_SIDE, ASSUMED_INPUT_SIDE)
    out = _megapixels(round(width * factor), round(height * factor))
    return (UPSCALE_BASE + UPSCALE_PER_OUTPUT_MEGAPIXEL * out).quantize(QUANTUM, rounding=ROUND_HALF_UP)


def _text_price(params: dict[str, Any], input_size: Size | None = None) -> Decimal:
    """A reply that runs to its `maxTokens`, for the conversation it is sent."""
    price = TEXT_TOKEN_PRICES.get(_model(params), UNKNOWN_TEXT_MODEL)
    prompt, completion = _text_tokens(params)
    return price.prompt * prompt + price.completion * completion


def _video_price(params: dict[str, Any], input_size: Size | None = None) -> Decimal:
    """One video: its model's price per second × its duration (the model's default when not set)."""
    price = VIDEO_PRICES.get(_model(params), UNKNOWN_VIDEO_MODEL)
    seconds = Decimal(str(_number(params.get("duration"), price.default_duration)))
    return price.per_second * seconds


def _audio_price(params: dict[str, Any], input_size: Size | None = None) -> Decimal:
    """One clip: speech by the characters of its text, music and sound by the second."""
    price = _audio_model_price(params)
    if price.speech:
        text = str((params.get("speech") or {}).get("text") or "")
        return (price.per_unit * len(text) / 1000).quantize(QUANTUM, rounding=ROUND_HALF_UP)
    seconds = Decimal(str(_number(params.get("duration"), price.default_duration)))
    return (price.per_unit * seconds).quantize(QUANTUM, rounding=ROUND_HALF_UP)


def _audio_model_price(params: dict[str, Any]) -> AudioPrice:
    known = AUDIO_PRICES.get(_model(params))
    if known is not None:
        return known
    return UNKNOWN_SPEECH_MODEL if isinstance(params.get("speech"), dict) else UNKNOWN_SOUND_MODEL


def _three_d_price(params: dict[str, Any], input_size: Size | None = None) -> Decimal:
    """One 3D model: its model's flat price."""
    return THREE_D_PRICES.get(_model(params), UNKNOWN_3D_MODEL)


def _each(amount: Decimal) -> Pricer:
    return lambda params, input_size: amount


# By current task type (legacy names are priced as today's).
TABLE: dict[str, Pricer] = {
    "imageInference": _image_price,
    "upscale": _upscale_price,
    "textInference": _text_price,
    "videoInference": _video_price,
    "audioInference": _audio_price,
    "3dInference": _three_d_price,
    "caption": _each(CAPTION),
    "promptEnhance": _each(PROMPT_ENHANCE_PER_VERSION),
    "removeBackground": _each(REMOVE_BACKGROUND),
    "imageMasking": _each(IMAGE_MASKING),
    "controlNetPreprocess": _each(CONTROLNET_PREPROCESS),
}


# ---------------------------------------------------------------------------- learning from charges


def recent_price(task_type: str, params: dict[str, Any], input_size: Size | None = None, *,
                 defaults: ModelDefaults | None = None) -> Recent | None:
    """What Runware recently charged per result for requests like this one, if it says anything.

    Reads the newest finished tasks of the same type and model (an index covers exactly that);
    each one's `cost` is the sum of its ledger rows. Their parameters are read with the model's
    `defaults`, as Runware ran them.
    """
    learner = LEARNERS.get(current_type(task_type), _same_model)
    rows = [(with_model_defaults(task_type, task_params, defaults), cost, count) for task_params, cost, count
            in Task.objects.recently_billed(task_type, _model(params), RECENT_WINDOW)]
    return learner(rows, with_model_defaults(task_type, params, defaults), input_size)


Rows = list[tuple[dict[str, Any], Decimal, int]]


def _highest(same: list[tuple[Decimal, int]], extra: Decimal = Decimal(0)) -> Recent | None:
    """The dearest recent cost per result (the safe side), from the newest matches."""
    same = same[:RECENT_MATCHES]
    if not same:
        return None
    return Recent(per_result=max(cost / count for cost, count in same) + extra,
                  samples=sum(count for _, count in same))


def _same_model(rows: Rows, params: dict[str, Any], input_size: Size | None) -> Recent | None:
    """A task whose price depends on its model alone (a caption, a mask…)."""
    return _highest([(cost, count) for _, cost, count in rows])


def _images(rows: Rows, params: dict[str, Any], input_size: Size | None) -> Recent | None:
    """Generations of the same size and steps without add-ons; the request's add-ons from the table."""
    wanted = _image_shape(params)
    same = [(cost, count) for task_params, cost, count in rows
            if not any(_image_extra_counts(task_params)) and _image_shape(task_params) == wanted]
    return _highest(same, _image_extras(params))


def _upscales(rows: Rows, params: dict[str, Any], input_size: Size | None) -> Recent | None:
    """Upscales by the same factor of an input of the same size, when both sizes are known."""
    wanted = _shape("upscale", params, input_size)
    if wanted[1] is None:
        return None
    return _highest([(cost, count) for task_params, cost, count in rows
                     if _shape("upscale", task_params, None) == wanted])


def _videos(rows: Rows, params: dict[str, Any], input_size: Size | None) -> Recent | None:
    """Videos of the same length (a video is priced per second)."""
    wanted = _shape("videoInference", params, None)
    return _highest([(cost, count) for task_params, cost, count in rows
                     if _shape("videoInference", task_params, None) == wanted])


def _clips(rows: Rows, params: dict[str, Any], input_size: Size | None) -> Recent | None:
    """Clips of the same text length or duration (speech is priced per character, the rest per second)."""
    wanted = _shape("audioInference", params, None)
    return _highest([(cost, count) for task_params, cost, count in rows
                     if _shape("audioInference", task_params, None) == wanted])


def _replies(rows: Rows, params: dict[str, Any], input_size: Size | None) -> Recent | None:
    """The table's price, raised by as much as recent replies of the model cost above theirs.

    A reply's cost follows its conversation and how much the model wrote, so another turn's cost
    says little about this one; but a charge above what the table allows for its own turn shows
    that the model costs more than the table says. Charges below it are ignored: short replies say
    nothing about a long one.
    """
    above = [(ratio, count) for task_params, cost, count in rows[:RECENT_MATCHES]
             if (ratio := cost / count / _text_price(task_params)) > 1]
    if not above:
        return None
    return Recent(per_result=_text_price(params) * max(ratio for ratio, _ in above),
                  samples=sum(count for _, count in above))


LEARNERS: dict[str, Callable[[Rows, dict[str, Any], Size | None], Recent | None]] = {
    "imageInference": _images,
    "upscale": _upscales,
    "textInference": _replies,
    "videoInference": _videos,
    "audioInference": _clips,
}


# ---------------------------------------------------------------------------- reading a request


def uses_model_defaults(task_type: str) -> bool:
    """Whether the price of this type of task follows its model's defaults (then pass `defaults`)."""
    return current_type(task_type) == "imageInference"


def with_model_defaults(task_type: str, params: dict[str, Any], defaults: ModelDefaults | None) -> dict[str, Any]:
    """The parameters with what the model runs by default filled in where the request leaves it out:
    width, height and steps of a generation (the dear end for a model whose defaults are unknown, or
    an image-to-image request's size, which follows its seed image)."""
    if not uses_model_defaults(task_type):
        return params
    known = UNKNOWN_MODEL_DEFAULTS if defaults is None else defaults
    seeded = bool(params.get("seedImage") or (params.get("inputs") or {}).get("seedImage")
                  or (params.get("inputs") or {}).get("image"))
    width, height = (LARGEST_SIDE, LARGEST_SIDE) if seeded else (known.width or UNKNOWN_SIDE,
                                                                  known.height or UNKNOWN_SIDE)
    filled = {
        "width": _int(params.get("width"), width),
        "height": _int(params.get("height"), height),
        "steps": _int(params.get("steps"), known.steps or UNKNOWN_STEPS),
    }
    return {**params, **filled}


def _shape(task_type: str, params: dict[str, Any], input_size: Size | None) -> tuple:
    """What, besides the model, decides the price of one result."""
    kind = current_type(task_type)
    if kind == "imageInference":
        return (*_image_shape(params), *_image_extra_counts(params))
    if kind == "upscale":
        return (_number(params.get("upscaleFactor"), 2.0), input_size or _inline_size(params))
    if kind == "textInference":
        return _text_tokens(params)
    if kind == "videoInference":
        price = VIDEO_PRICES.get(_model(params), UNKNOWN_VIDEO_MODEL)
        return (_number(params.get("duration"), price.default_duration),)
    if kind == "audioInference":
        audio = _audio_model_price(params)
        if audio.speech:
            return ("speech", len(str((params.get("speech") or {}).get("text") or "")))
        return ("seconds", _number(params.get("duration"), audio.default_duration))
    return ()


def _image_shape(params: dict[str, Any]) -> tuple[int, int, int]:
    """Width, height and steps (see with_model_defaults; what is still missing, at the dear end)."""
    return (_int(params.get("width"), UNKNOWN_SIDE), _int(params.get("height"), UNKNOWN_SIDE),
            _int(params.get("steps"), UNKNOWN_STEPS))


def _image_extra_counts(params: dict[str, Any]) -> tuple[int, int, bool]:
    """Adapters (LoRA, LyCORIS, embeddings), ControlNets, and whether a refiner runs."""
    adapters = sum(len(params.get(key) or []) for key in ("lora", "lycoris", "embeddings"))
    return adapters, len(params.get("controlNet") or []), params.get("refiner") is not None


def _text_tokens(params: dict[str, Any]) -> tuple[int, int]:
    """(prompt, completion) tokens of a request: every message and the system prompt; `maxTokens`."""
    settings = params.get("settings") or {}
    texts = [_message_text(message.get("content")) for message in params.get("messages") or []
             if isinstance(message, dict)]
    if settings.get("systemPrompt"):
        texts.append(str(settings["systemPrompt"]))
    prompt = sum(_tokens(text) + MESSAGE_OVERHEAD_TOKENS for text in texts)
    return prompt, _int(settings.get("maxTokens"), TEXT_DEFAULT_COMPLETION_TOKENS)


def _tokens(text: str) -> int:
    """About 4 characters or ¾ of a word per token, whichever makes more: the safe side of both."""
    return math.ceil(max(len(text) / 4, len(text.split()) * 4 / 3))


def _message_text(content: Any) -> str:
    """A message's `content`: a string, or a list of parts with `text`."""
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return str(content or "")


def _inline_size(params: dict[str, Any]) -> Size | None:
    """The size of an input image sent inline (a data URI), read from its header only."""
    value = (params.get("inputs") or {}).get("image") or params.get("inputImage")
    if not isinstance(value, str) or not value.startswith("data:") or "," not in value:
        return None
    encoded = value.split(",", 1)[1][:65536]
    try:
        with PILImage.open(io.BytesIO(base64.b64decode(encoded[: len(encoded) // 4 * 4]))) as picture:
            return picture.size
    except (binascii.Error, OSError, ValueError):  # not an image we can read: the caller assumes a size
        return None


def _model(params: dict[str, Any]) -> str:
    return str(params.get("model") or "")


def _megapixels(width: int, height: int) -> Decimal:
    return Decimal(width * height) / Decimal(1_000_000)


def _number(value: Any, default: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return number if number > 0 else default


def _int(value: Any, default: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return default
    return number if number > 0 else default
