"""Validation and result production for every simulated task type (current and legacy names).

Each builder reads a task, raises SimError for invalid input, and returns a `Work`
describing the results it will produce and what they cost.
"""

from __future__ import annotations

import random
import re
import uuid
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from typing import Any

from . import catalog, imaging, pricing
from .directives import NONE, Directives, extract
from .engine import OUTPUT_TYPES, Builder, Engine, Output, OutputOptions, Work
from .errors import SimError, invalid, missing
from .params import Reader, merged
from .text import compose_reply, enhance_prompt, message_text, prompt_tokens

MAX_SEED = 9223372036854775807
_RANDOM = random.SystemRandom()
_IMAGE_FORMATS = ("PNG", "JPG", "JPEG", "WEBP")


# ---------------------------------------------------------------------- helpers


def _model(
    reader: Reader, task_type: str, default: str | None = None, name: str = "model"
) -> catalog.ModelInfo:
    """The task's model: an AIR the catalogue knows, of the task's type."""
    air = reader.str(name, default or ...)
    return _known_model(air, reader.path(name), lambda m: m.task_type == task_type, task_type)


def _known_model(
    air: str, parameter: str, accept: Callable[[catalog.ModelInfo], bool], wanted: str
) -> catalog.ModelInfo:
    if not catalog.is_air(air):
        raise SimError(
            "invalidModel", f"'{air}' is not a valid AIR model identifier (source:id@version).", parameter
        )
    model = catalog.get_model(air)
    if model is None:
        raise SimError("modelNotFound", f"Model '{air}' was not found.", parameter)
    if not accept(model):
        kind = model.task_type or model.category
        raise SimError(
            "unsupportedModel", f"Model '{air}' is a {kind} model; '{parameter}' needs {wanted}.", parameter
        )
    return model


def _output(reader: Reader, default_format: str) -> OutputOptions:
    raw = reader.raw("outputType")
    requested = raw if isinstance(raw, list) else ["URL" if raw is None else raw]
    types = []
    for value in requested:
        match = next((t for t in OUTPUT_TYPES if isinstance(value, str) and t.lower() == value.lower()), None)
        if match is None:
            raise invalid("outputType", f"'outputType' must be one of {list(OUTPUT_TYPES)}.")
        types.append(match)
    output_format = reader.choice("outputFormat", _IMAGE_FORMATS, default_format)
    return OutputOptions(
        types=tuple(dict.fromkeys(types)),
        format="JPG" if output_format == "JPEG" else output_format,
        quality=reader.int("outputQuality", 20, 99, 95),
    )


def _prompt(reader: Reader, name: str, *, required: bool = True) -> tuple[str, Directives]:
    """A prompt (2–3000 characters) and the simulator directives embedded in it."""
    value = reader.str(name, ... if required else None, min_length=2, max_length=3000)
    if value is None:
        return "", NONE
    return extract(value, reader.path(name))


def _input_reference(reader: Reader, legacy_name: str = "inputImage") -> tuple[object, str]:
    """The input image of a utility task: `inputs.image` (current) or `inputImage` (legacy)."""
    inputs = reader.obj("inputs")
    if inputs is not None and inputs.has("image"):
        return inputs.raw("image"), inputs.path("image")
    if reader.has(legacy_name):
        return reader.raw(legacy_name), legacy_name
    if inputs is not None and inputs.has("video"):
        raise SimError("unsupportedInputVideo", "Video inputs are not simulated.", inputs.path("video"))
    raise missing("inputs.image")


def _new_uuid() -> str:
    return str(uuid.uuid4())


def _snap(value: float) -> int:
    """The nearest valid image side: a multiple of 64 in 128–2048."""
    return int(min(2048, max(128, round(value / 64) * 64)))


# -------------------------------------------------------------- imageInference


async def image_inference(engine: Engine, task: dict[str, Any], base_url: str) -> Work:
    r = Reader(task)
    model = _model(r, "imageInference")
    prompt, directives = _prompt(r, "positivePrompt")
    negative = r.str("negativePrompt", "", max_length=3000)
    inputs = r.obj("inputs") or Reader({}, "inputs")
    seed_uuid, seed_image = await _optional_image(engine, r, inputs, ("seedImage", "image"), base_url)
    mask_uuid, mask_image = await _optional_image(engine, r, inputs, ("maskImage", "mask"), base_url)
    if mask_image is not None and seed_image is None:
        raise missing("seedImage")
    outpaint = _outpaint(r, seed_image)
    defaults = model.defaults or catalog.ARCHITECTURE_DEFAULTS["sdxl"]
    width_default, height_default = _default_size(defaults, seed_image, outpaint)
    width = r.int("width", 128, 2048, width_default, multiple_of=64)
    height = r.int("height", 128, 2048, height_default, multiple_of=64)
    if outpaint and (
        width - outpaint.left - outpaint.right < 64 or height - outpaint.top - outpaint.bottom < 64
    ):
        raise invalid(
            "outpaint", "'outpaint' leaves less than 64 px of the original image inside width × height."
        )
    steps = r.int("steps", 1, 100, defaults.steps)
    count = r.int("numberResults", 1, 20, 1)
    seed = r.int("seed", 1, MAX_SEED)
    loras = _adapters(r, "lora", ("lora", "lycoris")) + _adapters(r, "lycoris", ("lycoris",))
    embeddings = _adapters(r, "embeddings", ("embeddings",))
    guides = await _controlnets(engine, r, steps, base_url)
    refiner = _refiner(r, steps)
    if r.has("vae"):
        _known_model(r.str("vae"), "vae", lambda m: m.category == "vae", "a VAE")
    safety = r.obj("safety")
    check_nsfw = r.bool("checkNSFW") or (safety is not None and safety.bool("checkContent"))
    spec = imaging.RenderSpec(
        model=model.air,
        prompt=prompt,
        seed=0,
        width=width,
        height=height,
        steps=steps,
        cfg=r.number("CFGScale", 0, 50, defaults.cfg),
        negative_prompt=negative,
        scheduler=r.str("scheduler", defaults.scheduler, max_length=64),
        clip_skip=r.int("clipSkip", 0, 2, 0),
        prompt_weighting=r.choice("promptWeighting", ("compel", "sdEmbeds")),
        loras=tuple((m.air, w) for m, w in loras + embeddings),
        refiner=refiner,
        strength=r.number("strength", 0, 1, 0.8),
        outpaint=outpaint,
        seed_image=seed_image,
        mask_image=mask_image,
        guides=tuple((img, w) for _, img, w in guides),
    )
    r.int("maskMargin", 0, 256)  # validated only: the simulated inpainting feathers every mask alike
    output = _output(r, "JPG")
    cost = pricing.image_cost(
        width=width,
        height=height,
        steps=steps,
        adapters=len(spec.loras),
        controlnets=len(guides),
        refiner=refiner,
    )
    seeds = [((seed - 1 + i) % MAX_SEED) + 1 if seed else _RANDOM.randint(1, 2**32 - 1) for i in range(count)]
    placeholders: list[dict[str, object]] = [{"imageUUID": _new_uuid()} for _ in range(count)]
    inputs_key = (seed_uuid, mask_uuid, tuple(guide_uuid for guide_uuid, _, _ in guides))
    nsfw = bool(re.search(r"\bnsfw\b", prompt, re.IGNORECASE))

    async def produce(index: int) -> Output:
        one = replace(spec, seed=seeds[index])
        key = (one, inputs_key)
        image = await engine.render(one, key)
        fields = await engine.emit_image(
            image,
            file_uuid=str(placeholders[index]["imageUUID"]),
            prefix="image",
            output=output,
            base_url=base_url,
            cache_key=key,
        )
        fields["seed"] = seeds[index]
        if check_nsfw:
            fields["NSFWContent"] = nsfw
        return Output(fields, cost)

    return Work(task["taskType"], task["taskUUID"], placeholders, produce, cost * count, directives)


async def _optional_image(
    engine: Engine, r: Reader, inputs: Reader, names: tuple[str, str], base_url: str
) -> tuple[str | None, Any]:
    """A flat field (e.g. `seedImage`) or its `inputs.*` equivalents."""
    flat, *nested = names
    for reader, name in ((r, flat), (inputs, flat), *((inputs, n) for n in nested)):
        if reader.has(name):
            return await engine.resolve_image(reader.raw(name), reader.path(name), base_url)
    return None, None


def _outpaint(r: Reader, seed_image: Any) -> imaging.Outpaint | None:
    spec = r.obj("outpaint")
    if spec is None:
        return None
    if seed_image is None:
        raise missing("seedImage")
    sides = {side: spec.int(side, 0, 2048, 0) for side in ("top", "right", "bottom", "left")}
    return imaging.Outpaint(**sides, blur=spec.int("blur", 0, 32, 0))


def _default_size(
    defaults: catalog.ArchitectureDefaults, seed_image: Any, outpaint: imaging.Outpaint | None
) -> tuple[int, int]:
    if seed_image is None:
        return defaults.width, defaults.height
    width, height = seed_image.size
    if outpaint is not None:
        width, height = width + outpaint.left + outpaint.right, height + outpaint.top + outpaint.bottom
    return _snap(width), _snap(height)


def _adapters(r: Reader, name: str, categories: tuple[str, ...]) -> list[tuple[catalog.ModelInfo, float]]:
    """LoRA / LyCORIS / embeddings entries: [{model, weight}]."""
    result = []
    for item in r.objects(name, 10):
        model = _known_model(
            item.str("model", ...),
            item.path("model"),
            lambda m: m.category in categories,
            f"a {' or '.join(categories)} model",
        )
        result.append((model, item.number("weight", -4, 4, 1.0)))
    return result


async def _controlnets(engine: Engine, r: Reader, steps: int, base_url: str) -> list[tuple[str, Any, float]]:
    result = []
    for item in r.objects("controlNet", 8):
        _known_model(
            item.str("model", ...),
            item.path("model"),
            lambda m: m.category == "controlnet",
            "a ControlNet model",
        )
        if not item.has("guideImage"):
            raise missing(item.path("guideImage"))
        guide_uuid, guide = await engine.resolve_image(
            item.raw("guideImage"), item.path("guideImage"), base_url
        )
        weight = item.number("weight", 0, 1, 1.0)
        _step_window(item, steps, "startStep", "endStep", 0, steps)
        _step_window(item, steps, "startStepPercentage", "endStepPercentage", 0, 100)
        item.choice("controlMode", ("prompt", "controlnet", "balanced"))
        result.append((guide_uuid, guide, weight))
    return result


def _step_window(item: Reader, steps: int, start_name: str, end_name: str, low: int, high: int) -> None:
    start = item.int(start_name, low, high)
    end = item.int(end_name, low, high)
    if start is not None and end is not None and start >= end:
        raise invalid(item.path(start_name), f"'{item.path(start_name)}' must be lower than '{end_name}'.")


def _refiner(r: Reader, steps: int) -> bool:
    refiner = r.obj("refiner")
    if refiner is None:
        return False
    _known_model(
        refiner.str("model", ...),
        refiner.path("model"),
        lambda m: m.task_type == "imageInference",
        "an image checkpoint",
    )
    refiner.int("startStep", 1, steps)
    refiner.int("startStepPercentage", 0, 100)
    return True


# ------------------------------------------------------------------------ caption


async def caption(engine: Engine, task: dict[str, Any], base_url: str) -> Work:
    r = Reader(task)
    legacy = task["taskType"] == "imageCaption"
    model = _model(r, "caption", default=catalog.default_models("caption")[0] if legacy else None)
    prompt, directives = _prompt(r, "prompt", required=False)
    references: list[tuple[object, str]]
    raw_many = r.raw("inputImages") if legacy else None
    if isinstance(raw_many, list) and raw_many:
        references = [(value, f"inputImages[{i}]") for i, value in enumerate(raw_many[:8])]
    else:
        references = [_input_reference(r)]
    images = [(await engine.resolve_image(value, parameter, base_url))[1] for value, parameter in references]
    placeholders: list[dict[str, object]] = [{"resultIndex": i} for i in range(len(images))]

    async def produce(index: int) -> Output:
        text = await engine.blocking(imaging.describe, images[index], model.air, prompt or None)
        return Output({"text": text, "resultIndex": index}, pricing.CAPTION)

    return Work(
        task["taskType"],
        task["taskUUID"],
        placeholders,
        produce,
        pricing.CAPTION * len(images),
        directives,
        atomic=True,
    )


# ----------------------------------------------------------------- promptEnhance


async def prompt_enhance(engine: Engine, task: dict[str, Any], base_url: str) -> Work:
    r = Reader(task)
    _model(r, "promptEnhance", default=catalog.default_models("promptEnhance")[0])
    prompt, directives = _prompt(r, "prompt")
    versions = r.int("promptVersions", 1, 5, 1)
    max_length = r.int("promptMaxLength", 4, 400, 380)
    offset = engine.enhance_offsets.get(prompt, 0)
    engine.enhance_offsets[prompt] = offset + versions  # asking again yields fresh suggestions
    texts = enhance_prompt(prompt, versions, max_length, offset)
    placeholders: list[dict[str, object]] = [{"resultIndex": i} for i in range(versions)]

    async def produce(index: int) -> Output:
        return Output({"text": texts[index], "resultIndex": index}, pricing.PROMPT_ENHANCE_PER_VERSION)

    return Work(
        task["taskType"],
        task["taskUUID"],
        placeholders,
        produce,
        pricing.PROMPT_ENHANCE_PER_VERSION * versions,
        directives,
        atomic=True,
    )


# -------------------------------------------------------------------------- upscale

_MAX_UPSCALED_SIDE = 8192


async def upscale(engine: Engine, task: dict[str, Any], base_url: str) -> Work:
    r = Reader(task)
    legacy = task["taskType"] == "imageUpscale"
    _model(r, "upscale", default=catalog.default_models("upscale")[0] if legacy else None)
    input_uuid, image = await engine.resolve_image(*_input_reference(r), base_url)
    factor = r.number("upscaleFactor", 2, 4, 2.0)
    width, height = round(image.width * factor), round(image.height * factor)
    if max(width, height) > _MAX_UPSCALED_SIDE:
        raise invalid("upscaleFactor", f"The upscaled image would exceed {_MAX_UPSCALED_SIDE} px on a side.")
    output = _output(r, "JPG")
    cost = pricing.upscale_cost(width, height)
    placeholders: list[dict[str, object]] = [{"imageUUID": _new_uuid()}]

    async def produce(index: int) -> Output:
        result = await engine.blocking(imaging.upscale, image, factor)
        fields = await engine.emit_image(
            result,
            file_uuid=str(placeholders[0]["imageUUID"]),
            prefix="image",
            output=output,
            base_url=base_url,
            cache_key=("upscale", input_uuid, factor),
        )
        return Output({**fields, "inputImageUUID": input_uuid}, cost)

    return Work(task["taskType"], task["taskUUID"], placeholders, produce, cost)


# -------------------------------------------------------------- removeBackground


async def remove_background(engine: Engine, task: dict[str, Any], base_url: str) -> Work:
    r = Reader(task)
    legacy = task["taskType"] == "imageBackgroundRemoval"
    _model(r, "removeBackground", default=catalog.default_models("removeBackground")[0] if legacy else None)
    input_uuid, image = await engine.resolve_image(*_input_reference(r), base_url)
    settings = merged(r, "settings")
    options = imaging.BackgroundOptions(
        rgba=_rgba(settings),
        return_only_mask=settings.bool("returnOnlyMask"),
        post_process_mask=settings.bool("postProcessMask"),
        alpha_matting=settings.bool("alphaMatting"),
        foreground_threshold=settings.int("alphaMattingForegroundThreshold", 1, 255, 240),
        background_threshold=settings.int("alphaMattingBackgroundThreshold", 0, 254, 10),
        erode_size=settings.int("alphaMattingErodeSize", 0, 40, 10),
    )
    output = _output(r, "PNG")
    placeholders: list[dict[str, object]] = [{"imageUUID": _new_uuid()}]

    async def produce(index: int) -> Output:
        result = await engine.blocking(imaging.remove_background, image, options)
        fields = await engine.emit_image(
            result,
            file_uuid=str(placeholders[0]["imageUUID"]),
            prefix="image",
            output=output,
            base_url=base_url,
            cache_key=("removeBackground", input_uuid, options),
        )
        return Output({**fields, "inputImageUUID": input_uuid}, pricing.REMOVE_BACKGROUND)

    return Work(task["taskType"], task["taskUUID"], placeholders, produce, pricing.REMOVE_BACKGROUND)


def _rgba(settings: Reader) -> tuple[int, int, int, int]:
    """`rgba` = [r, g, b, a] with r/g/b in 0–255 and alpha in 0–1 (values above 1 are read as 0–255)."""
    raw = settings.raw("rgba")
    if raw is None:
        return 255, 255, 255, 0
    valid = (
        isinstance(raw, list)
        and len(raw) == 4
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= 255 for v in raw)
    )
    if not valid:
        raise invalid(
            settings.path("rgba"), f"'{settings.path('rgba')}' must be [r, g, b, a] with values 0–255."
        )
    alpha = raw[3] * 255 if raw[3] <= 1 else raw[3]
    return int(raw[0]), int(raw[1]), int(raw[2]), round(alpha)


# --------------------------------------------------------------------- imageMasking


async def image_masking(engine: Engine, task: dict[str, Any], base_url: str) -> Work:
    r = Reader(task)
    model = _model(r, "imageMasking")
    model_number = int(model.air.rsplit("@", 1)[1])
    input_uuid, image = await engine.resolve_image(*_input_reference(r), base_url)
    settings = merged(r, "settings")
    options = imaging.MaskingOptions(
        confidence=settings.number("confidence", 0, 1, 0.25),
        max_detections=settings.int("maxDetections", 1, 20, 6),
        padding=settings.int("maskPadding", -512, 512, 4),
        blur=settings.int("maskBlur", 0, 128, 4),
    )
    output = _output(r, "PNG")
    placeholders: list[dict[str, object]] = [{"maskImageUUID": _new_uuid()}]

    async def produce(index: int) -> Output:
        mask, boxes = await engine.blocking(imaging.detect_and_mask, image, model_number, options)
        fields = await engine.emit_image(
            mask,
            file_uuid=str(placeholders[0]["maskImageUUID"]),
            prefix="maskImage",
            output=output,
            base_url=base_url,
            cache_key=("imageMasking", input_uuid, model_number, options),
        )
        detections = [{"x_min": x0, "y_min": y0, "x_max": x1, "y_max": y1} for x0, y0, x1, y1 in boxes]
        return Output(
            {**fields, "detections": detections, "inputImageUUID": input_uuid}, pricing.IMAGE_MASKING
        )

    return Work(task["taskType"], task["taskUUID"], placeholders, produce, pricing.IMAGE_MASKING)


# ----------------------------------------------------------- controlNetPreprocess


async def controlnet_preprocess(engine: Engine, task: dict[str, Any], base_url: str) -> Work:
    r = Reader(task)
    if task["taskType"] == "imageControlNetPreProcess":
        kind = r.str("preProcessorType", ..., choices=imaging.PREPROCESSORS)
        if r.has("model"):
            _model(r, "controlNetPreprocess")
    else:
        model = _model(r, "controlNetPreprocess")
        kind = model.air.rsplit("@", 1)[1].replace("-", "_")
    input_uuid, image = await engine.resolve_image(*_input_reference(r), base_url)
    settings = merged(r, "settings")
    options = imaging.PreprocessOptions(
        low_threshold=settings.int("lowThresholdCanny", 0, 1000, 100),
        high_threshold=settings.int("highThresholdCanny", 0, 1000, 200),
        hands_and_face=settings.bool("includeHandsAndFaceOpenPose"),
    )
    if options.low_threshold > options.high_threshold:
        raise invalid(
            settings.path("lowThresholdCanny"), "'lowThresholdCanny' must not exceed 'highThresholdCanny'."
        )
    size = (
        settings.int("width", 128, 2048, None, multiple_of=64),
        settings.int("height", 128, 2048, None, multiple_of=64),
    )
    output = _output(r, "PNG")
    placeholders: list[dict[str, object]] = [{"guideImageUUID": _new_uuid()}]

    async def produce(index: int) -> Output:
        guide = await engine.blocking(imaging.preprocess, image, kind, options)
        if size[0] or size[1]:
            guide = guide.resize((size[0] or guide.width, size[1] or guide.height))
        fields = await engine.emit_image(
            guide,
            file_uuid=str(placeholders[0]["guideImageUUID"]),
            prefix="guideImage",
            output=output,
            base_url=base_url,
            cache_key=("controlNetPreprocess", input_uuid, kind, options, size),
        )
        return Output({**fields, "inputImageUUID": input_uuid}, pricing.CONTROLNET_PREPROCESS)

    return Work(task["taskType"], task["taskUUID"], placeholders, produce, pricing.CONTROLNET_PREPROCESS)


# ------------------------------------------------------------------ textInference

_ROLES = ("system", "user", "assistant", "tool")


async def text_inference(engine: Engine, task: dict[str, Any], base_url: str) -> Work:
    r = Reader(task)
    model = _model(r, "textInference")
    messages = r.objects("messages", 500)
    if not messages:
        raise missing("messages")
    for message in messages:
        message.str("role", ..., choices=_ROLES)
        content = message.raw("content")
        if not isinstance(content, (str, list)):
            raise invalid(
                message.path("content"), f"'{message.path('content')}' must be a string or an array."
            )
    settings = r.obj("settings") or Reader({}, "settings")
    max_tokens = settings.int("maxTokens", 1, 131072)
    settings.number("temperature", 0, 2)
    settings.number("topP", 0, 1)
    system_prompt = settings.str("systemPrompt", max_length=100_000)
    count = r.int("numberResults", 1, 10, 1)
    last = next((m for m in reversed(messages) if m.raw("role") == "user"), messages[-1])
    last_text, directives = extract(message_text(last.raw("content")), last.path("content"))
    cleaned = [m.data if m is not last else {**m.data, "content": last_text} for m in messages]
    replies = [
        compose_reply(
            last_user=last_text,
            model_name=model.name,
            prompt_token_count=prompt_tokens(cleaned, system_prompt),
            max_tokens=max_tokens,
            reasoning=model.reasoning or _thinking_enabled(settings),
            variant=i,
        )
        for i in range(count)
    ]
    costs = [pricing.text_cost(reply.prompt_tokens, reply.completion_tokens) for reply in replies]
    placeholders: list[dict[str, object]] = [{"resultIndex": i} for i in range(count)]

    async def produce(index: int) -> Output:
        reply = replies[index]
        fields: dict[str, object] = {
            "text": reply.text,
            "finishReason": reply.finish_reason,
            "usage": reply.usage(),
            "resultIndex": index,
        }
        if reply.reasoning:
            fields["reasoningContent"] = reply.reasoning
        return Output(fields, costs[index])

    return Work(
        task["taskType"],
        task["taskUUID"],
        placeholders,
        produce,
        sum(costs, Decimal(0)),
        directives,
        reply=replies[0],
    )


def _thinking_enabled(settings: Reader) -> bool:
    for name in ("thinking", "thinkingLevel"):
        value = settings.raw(name)
        if isinstance(value, dict):
            value = value.get("type", value.get("enabled", True))
        if value not in (None, False, 0, "none", "off", "disabled", "minimal"):
            return True
    return False


BUILDERS: dict[str, Builder] = {
    "imageInference": image_inference,
    "caption": caption,
    "imageCaption": caption,
    "promptEnhance": prompt_enhance,
    "upscale": upscale,
    "imageUpscale": upscale,
    "removeBackground": remove_background,
    "imageBackgroundRemoval": remove_background,
    "imageMasking": image_masking,
    "controlNetPreprocess": controlnet_preprocess,
    "imageControlNetPreProcess": controlnet_preprocess,
    "textInference": text_inference,
}
