"""Builders for the media task types: `videoInference`, `audioInference`, `3dInference`, and the
video variants of `caption`, `upscale` and `removeBackground` (chosen when `inputs.video` is set).

`BUILDERS` here is the simulator's whole table: the image and text builders of `tasks` plus
these. Each media builder reads the model's entry in `mediacatalog` for what it accepts, how
long it takes (`Work.latency`) and what it costs.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from PIL import Image

from . import audio, imaging, mediacatalog, mesh, pricing, tasks, video
from .directives import extract
from .engine import OUTPUT_TYPES, Builder, Engine, Output, Work, media_fields
from .errors import SimError, invalid, missing
from .params import Reader, merged

_MAX_UPSCALED_VIDEO_SIDE = 4096


# ---------------------------------------------------------------------- helpers


def _output_types(r: Reader, allowed: tuple[str, ...]) -> tuple[str, ...]:
    raw = r.raw("outputType")
    requested = raw if isinstance(raw, list) else ["URL" if raw is None else raw]
    types = []
    for value in requested:
        match = next((t for t in allowed if isinstance(value, str) and t.lower() == value.lower()), None)
        if match is None:
            only = "only as 'URL'" if allowed == ("URL",) else f"as one of {list(allowed)}"
            raise invalid("outputType", f"This task delivers its results {only}.")
        types.append(match)
    return tuple(dict.fromkeys(types))


def _seeds(r: Reader, count: int) -> list[int]:
    seed = r.int("seed", 1, tasks.MAX_SEED)
    if seed is None:
        return [tasks._RANDOM.randint(1, 2**31) for _ in range(count)]
    return [min(tasks.MAX_SEED, seed + i) for i in range(count)]


def _seconds(value: float) -> Decimal:
    return Decimal(str(round(value, 2)))


def _choices_text(values: list[str]) -> str:
    return ", ".join(values[:-1]) + f" or {values[-1]}" if len(values) > 1 else values[0]


def _video_model(r: Reader, table: dict[str, mediacatalog.VideoToolSpec], task_type: str):  # type: ignore[no-untyped-def]
    model = tasks._model(r, task_type)
    spec = table.get(model.air)
    if spec is None:
        raise SimError(
            "unsupportedInputVideo",
            f"Model '{model.air}' does not take videos; for 'inputs.video' use {_choices_text(sorted(table))}.",
            "inputs.video",
        )
    return model, spec


# ------------------------------------------------------------------ videoInference


async def video_inference(engine: Engine, task: dict[str, Any], base_url: str) -> Work:
    r = Reader(task)
    model = tasks._model(r, "videoInference")
    spec = mediacatalog.video_spec(model.air)
    frames = _frame_references(r)
    prompt, directives = tasks._prompt(r, "positivePrompt", required=not frames)
    negative = r.str("negativePrompt", "", max_length=3000)
    duration = _duration(r, model.air, spec)
    width, height = _video_size(r, model.air, spec)
    fps = _fps(r, model.air, spec)
    count = r.int("numberResults", 1, 4, 1)
    seeds = _seeds(r, count)
    _output_types(r, ("URL",))
    output_format = r.choice("outputFormat", tuple(video.FORMATS), "MP4")
    r.int("outputQuality", 20, 99, 95)
    if len(frames) > spec.frame_images:
        raise invalid(
            "inputs.frameImages",
            f"Model '{model.air}' takes " + ("no frame images." if not spec.frame_images else
            "one frame image (the first frame)." if spec.frame_images == 1 else "a first and a last frame image."),
        )
    first = last = None
    first_key = last_key = None
    for reference, parameter, position in frames:
        image_uuid, image = await engine.resolve_image(reference, parameter, base_url)
        if position == "last":
            last, last_key = image, image_uuid
        else:
            first, first_key = image, image_uuid
    cost = pricing.quantize(spec.price_per_second * duration)
    placeholders: list[dict[str, object]] = [{"videoUUID": tasks._new_uuid()} for _ in range(count)]

    async def produce(index: int) -> Output:
        clip = video.ClipSpec(
            model=model.air, prompt=prompt, negative=negative, seed=seeds[index], width=width, height=height,
            duration=duration, fps=fps, output_format=output_format, with_audio=spec.native_audio,
        )
        data = await engine.produce_bytes(("video", clip, first_key, last_key), video.render_clip, clip, first, last)
        ext, mime, _ = video.FORMATS[output_format]
        fields = engine.store_output(
            data, ext, mime, file_uuid=str(placeholders[index]["videoUUID"]), prefix="video",
            types=("URL",), base_url=base_url,
        )
        return Output({**fields, "seed": seeds[index]}, cost)

    return Work(
        task["taskType"], task["taskUUID"], placeholders, produce, cost * count, directives,
        atomic=True, latency=spec.latency,
    )


def _frame_references(r: Reader) -> list[tuple[object, str, str]]:
    """(image reference, parameter, "first"/"last") from `inputs.frameImages`, `inputs.image` or the
    legacy top-level `frameImages` (items with `inputImage`)."""
    inputs = r.obj("inputs") or Reader({}, "inputs")
    found: list[tuple[object, str, str]] = []
    for name, holder, key in (("frameImages", inputs, "image"), ("frameImages", r, "inputImage")):
        for index, item in enumerate(holder.objects(name, 8)):
            if not item.has(key) and not item.has("image"):
                raise missing(item.path(key))
            field_name = key if item.has(key) else "image"
            frame = item.raw("frame")
            if frame is None:
                position = "first" if index == 0 else "last"
            elif frame in ("first", 0):
                position = "first"
            elif frame in ("last", -1):
                position = "last"
            else:
                raise invalid(item.path("frame"), f"'{item.path('frame')}' must be 'first' or 'last'.")
            found.append((item.raw(field_name), item.path(field_name), position))
    if inputs.has("image"):
        found.append((inputs.raw("image"), inputs.path("image"), "first"))
    positions = [position for _, _, position in found]
    if len(set(positions)) != len(positions):
        raise invalid("inputs.frameImages", "Give at most one first and one last frame image.")
    return found


def _duration(r: Reader, air: str, spec: mediacatalog.VideoSpec) -> int:
    value = r.number("duration", 1, 60, spec.default_duration)
    if not float(value).is_integer():
        raise invalid("duration", f"'duration' must be a whole number of seconds, got {value}.")
    seconds = int(value)
    if spec.durations and seconds not in spec.durations:
        allowed = _choices_text([str(d) for d in spec.durations])
        raise invalid("duration", f"Model '{air}' makes videos of {allowed} seconds, not {seconds}.")
    low, high = spec.duration_range
    if not spec.durations and not low <= seconds <= high:
        raise invalid("duration", f"Model '{air}' makes videos of {low} to {high} seconds, not {seconds}.")
    return seconds


def _video_size(r: Reader, air: str, spec: mediacatalog.VideoSpec) -> tuple[int, int]:
    if r.has("width") != r.has("height"):
        raise missing("height" if r.has("width") else "width")
    width = r.int("width", 1, 8192, spec.default_size[0])
    height = r.int("height", 1, 8192, spec.default_size[1])
    if spec.sizes:
        if (width, height) not in spec.sizes:
            allowed = _choices_text([f"{w}x{h}" for w, h in spec.sizes])
            raise invalid("width", f"Model '{air}' makes videos of {allowed}, not {width}x{height}.")
        return width, height
    low, high = spec.size_range
    for name, value in (("width", width), ("height", height)):
        if not low <= value <= high or value % 8:
            raise invalid(name, f"'{name}' must be a multiple of 8 between {low} and {high} for '{air}', got {value}.")
    return width, height


def _fps(r: Reader, air: str, spec: mediacatalog.VideoSpec) -> int:
    if spec.fps is None:
        if r.has("fps"):
            raise invalid("fps", f"Model '{air}' has a fixed frame rate; leave 'fps' out.")
        return spec.default_fps
    return r.int("fps", spec.fps[0], spec.fps[1], spec.default_fps)


# ------------------------------------------------------------------ audioInference


async def audio_inference(engine: Engine, task: dict[str, Any], base_url: str) -> Work:
    r = Reader(task)
    model = tasks._model(r, "audioInference")
    spec = mediacatalog.audio_spec(model.air)
    count = r.int("numberResults", 1, 4, 1)
    seeds = _seeds(r, count)
    types = _output_types(r, OUTPUT_TYPES)
    output_format = r.choice("outputFormat", tuple(audio.FORMATS), "MP3")
    settings = r.obj("audioSettings") or Reader({}, "audioSettings")
    rate = settings.int("sampleRate", 8000, 48000, audio.DEFAULT_SAMPLE_RATE)
    if rate not in audio.SAMPLE_RATES:
        allowed = _choices_text([str(s) for s in audio.SAMPLE_RATES])
        raise invalid(settings.path("sampleRate"), f"'audioSettings.sampleRate' must be {allowed}, got {rate}.")
    settings.int("bitrate", 32, 320)
    if spec.kind == "speech":
        text, voice, directives = _speech(r, model.air, spec)
        cost = pricing.quantize(spec.price * len(text) / 1000)

        def synthesize(seed: int) -> audio.Pcm:
            return audio.speech(text, voice, model.air, seed, rate)

        key: object = ("speech", text, voice)
    else:
        if r.has("speech"):
            raise invalid("speech", f"Model '{model.air}' makes {spec.kind}; 'speech' is for text-to-speech models.")
        prompt, directives = tasks._prompt(r, "positivePrompt")
        low, high = spec.duration_range
        seconds = r.number("duration", low, high, spec.default_duration)
        cost = pricing.quantize(spec.price * _seconds(seconds))
        make = audio.music if spec.kind == "music" else audio.sound_effect

        def synthesize(seed: int) -> audio.Pcm:
            return make(prompt, model.air, seed, seconds, rate)

        key = (spec.kind, prompt, seconds)
    placeholders: list[dict[str, object]] = [{"audioUUID": tasks._new_uuid()} for _ in range(count)]

    def encode(seed: int) -> bytes:
        return audio.encode(synthesize(seed), output_format)

    async def produce(index: int) -> Output:
        data = await engine.produce_bytes(("audio", model.air, key, seeds[index], rate, output_format), encode, seeds[index])
        ext, mime = audio.FORMATS[output_format]
        fields = engine.store_output(
            data, ext, mime, file_uuid=str(placeholders[index]["audioUUID"]), prefix="audio", types=types,
            base_url=base_url,
        )
        return Output({**fields, "seed": seeds[index]}, cost)

    return Work(
        task["taskType"], task["taskUUID"], placeholders, produce, cost * count, directives,
        atomic=True, latency=spec.latency,
    )


def _speech(r: Reader, air: str, spec: mediacatalog.AudioSpec) -> tuple[str, str, Any]:
    """`speech: {text, voice}`: the text (directives removed) and a voice of the model's list, or for a
    voice-design model a description of the voice (in `speech.voice` or `positivePrompt`)."""
    speech = r.obj("speech")
    if speech is None:
        raise missing("speech.text")
    raw = speech.str("text", ..., min_length=1, max_length=5000)
    text, directives = extract(raw, speech.path("text"))
    if not text.strip():
        raise invalid("speech.text", "'speech.text' has nothing to say once directives are removed.")
    if spec.voices:
        if not speech.has("voice"):
            raise SimError(
                "missingVoice",
                f"Missing required parameter 'speech.voice': model '{air}' speaks as {_choices_text(list(spec.voices))}.",
                "speech.voice",
            )
        voice = speech.raw("voice")
        if voice not in spec.voices:
            raise invalid(
                "speech.voice", f"Model '{air}' has no voice {voice!r}; choose {_choices_text(list(spec.voices))}."
            )
        return text, voice, directives
    description = speech.str("voice", max_length=1000) or r.str("positivePrompt", max_length=3000)
    if not description or len(description.strip()) < 2:
        raise SimError(
            "missingVoice",
            f"Model '{air}' designs its voice from a description: describe it in 'speech.voice'.",
            "speech.voice",
        )
    return text, description, directives


# --------------------------------------------------------------------- 3dInference


async def three_d_inference(engine: Engine, task: dict[str, Any], base_url: str) -> Work:
    r = Reader(task)
    model = tasks._model(r, "3dInference")
    spec = mediacatalog.three_d_spec(model.air)
    inputs = r.obj("inputs") or Reader({}, "inputs")
    references: list[tuple[object, str]] = []
    if inputs.has("image"):
        references.append((inputs.raw("image"), inputs.path("image")))
    raw_images = inputs.raw("images")
    if raw_images is not None:
        if not isinstance(raw_images, list) or not 1 <= len(raw_images) <= 4:
            raise invalid("inputs.images", "'inputs.images' must be an array of 1 to 4 images (views of one object).")
        references += [(value, f"inputs.images[{i}]") for i, value in enumerate(raw_images)]
    if references and "image" not in spec.inputs:
        raise invalid(references[0][1], f"Model '{model.air}' builds 3D from a text prompt only.")
    if not references and "text" not in spec.inputs:
        raise SimError(
            "missingImage", f"Model '{model.air}' builds 3D from an image: send 'inputs.image'.", "inputs.image"
        )
    if spec.needs_mask and not inputs.has("mask"):
        raise SimError(
            "missingMask", f"Model '{model.air}' needs 'inputs.mask' (white = the object to rebuild).", "inputs.mask"
        )
    prompt, directives = tasks._prompt(r, "positivePrompt", required=not references)
    count = r.int("numberResults", 1, 4, 1)
    seeds = _seeds(r, count)
    _output_types(r, ("URL",))
    r.choice("outputFormat", ("GLB",), "GLB")
    image: Image.Image | None = None
    image_uuid = None
    if references:
        image_uuid, image = await engine.resolve_image(*references[0], base_url)
    if inputs.has("mask"):
        mask_uuid, mask = await engine.resolve_image(inputs.raw("mask"), inputs.path("mask"), base_url)
        if image is not None:
            image = Image.composite(image.convert("RGB"), Image.new("RGB", image.size), mask.convert("L").resize(image.size))
            image_uuid = (image_uuid, mask_uuid)
    placeholders: list[dict[str, object]] = [{"resultIndex": i} for i in range(count)]

    async def produce(index: int) -> Output:
        seed = seeds[index]
        if image is not None:
            data = await engine.produce_bytes(("3d", model.air, image_uuid, seed), mesh.from_image, image, model.air, seed)
        else:
            data = await engine.produce_bytes(("3d", model.air, prompt, seed), mesh.from_prompt, model.air, prompt, seed)
        stored = engine.media.put(data, "glb", "model/gltf-binary")
        url = media_fields(stored, "file", ("URL",), base_url)["fileURL"]
        outputs = {"files": [{"uuid": stored.uuid, "url": url, "format": "GLB"}]}
        return Output({"outputs": outputs, "seed": seed, "resultIndex": index}, spec.price)

    return Work(
        task["taskType"], task["taskUUID"], placeholders, produce, spec.price * count, directives,
        atomic=True, latency=spec.latency,
    )


# ------------------------------------------------------------ video utilities


async def video_caption(engine: Engine, task: dict[str, Any], base_url: str) -> Work:
    r = Reader(task)
    model, spec = _video_model(r, mediacatalog.VIDEO_CAPTION_MODELS, "caption")
    prompt, directives = tasks._prompt(r, "prompt", required=False)
    inputs = r.obj("inputs")
    assert inputs is not None
    stored, info = await engine.resolve_video(inputs.raw("video"), inputs.path("video"), base_url)
    cost = pricing.quantize(spec.price_per_second * _seconds(info.duration))

    def caption() -> str:
        frame = video.middle_frame(stored.data, info)
        seen = imaging.describe(frame, model.air, prompt or None).replace(" image ", " picture ")
        return (
            f"A {info.duration:.1f}-second {info.width}x{info.height} video ({info.frames} frames at "
            f"{info.fps:g} fps). Mid-way: {seen[0].lower()}{seen[1:]}"
        )

    async def produce(index: int) -> Output:
        text = await engine.blocking(caption)
        return Output({"text": text, "resultIndex": 0}, cost)

    return Work(
        task["taskType"], task["taskUUID"], [{"resultIndex": 0}], produce, cost, directives,
        atomic=True, latency=spec.latency,
    )


async def video_upscale(engine: Engine, task: dict[str, Any], base_url: str) -> Work:
    r = Reader(task)
    model, spec = _video_model(r, mediacatalog.VIDEO_UPSCALE_MODELS, "upscale")
    inputs = r.obj("inputs")
    assert inputs is not None
    stored, info = await engine.resolve_video(inputs.raw("video"), inputs.path("video"), base_url)
    factor = r.number("upscaleFactor", 2, 4, 2.0)
    size = (round(info.width * factor / 2) * 2, round(info.height * factor / 2) * 2)
    if max(size) > _MAX_UPSCALED_VIDEO_SIDE:
        raise invalid(
            "upscaleFactor",
            f"The upscaled video would be {size[0]}x{size[1]}, over {_MAX_UPSCALED_VIDEO_SIDE} px on a side; "
            "choose a smaller 'upscaleFactor'.",
        )
    _output_types(r, ("URL",))
    output_format = r.choice("outputFormat", tuple(video.FORMATS), "MP4")
    r.int("outputQuality", 20, 99, 95)
    cost = pricing.quantize(spec.price_per_second * _seconds(info.duration))
    placeholders: list[dict[str, object]] = [{"videoUUID": tasks._new_uuid()}]

    def upscale() -> bytes:
        resized = (imaging.upscale(frame, factor).resize(size) for frame in video.frames(stored.data))
        return video.encode(resized, info.fps, size, output_format)

    async def produce(index: int) -> Output:
        data = await engine.produce_bytes(("video-upscale", stored.uuid, factor, output_format), upscale)
        ext, mime, _ = video.FORMATS[output_format]
        fields = engine.store_output(
            data, ext, mime, file_uuid=str(placeholders[0]["videoUUID"]), prefix="video", types=("URL",),
            base_url=base_url,
        )
        return Output(fields, cost)

    return Work(task["taskType"], task["taskUUID"], placeholders, produce, cost, atomic=True, latency=spec.latency)


async def video_remove_background(engine: Engine, task: dict[str, Any], base_url: str) -> Work:
    r = Reader(task)
    model, spec = _video_model(r, mediacatalog.VIDEO_BACKGROUND_MODELS, "removeBackground")
    inputs = r.obj("inputs")
    assert inputs is not None
    stored, info = await engine.resolve_video(inputs.raw("video"), inputs.path("video"), base_url)
    settings = merged(r, "settings")
    options = imaging.BackgroundOptions(rgba=tasks._rgba(settings))
    _output_types(r, ("URL",))
    output_format = r.choice("outputFormat", ("WEBM", "MOV"), "WEBM")
    cost = pricing.quantize(spec.price_per_second * _seconds(info.duration))
    placeholders: list[dict[str, object]] = [{"videoUUID": tasks._new_uuid()}]
    size = (info.width // 2 * 2, info.height // 2 * 2)

    def cut_out() -> bytes:
        frames = (
            imaging.remove_background(frame.convert("RGB"), options).convert("RGBA").crop((0, 0, *size))
            for frame in video.frames(stored.data)
        )
        return video.encode(frames, info.fps, size, output_format, alpha=True)

    async def produce(index: int) -> Output:
        data = await engine.produce_bytes(("video-rembg", stored.uuid, options, output_format), cut_out)
        ext, mime, _ = video.FORMATS[output_format]
        fields = engine.store_output(
            data, ext, mime, file_uuid=str(placeholders[0]["videoUUID"]), prefix="video", types=("URL",),
            base_url=base_url,
        )
        return Output(fields, cost)

    return Work(task["taskType"], task["taskUUID"], placeholders, produce, cost, atomic=True, latency=spec.latency)


def _with_video(image_builder: Builder, video_builder: Builder) -> Builder:
    """The current utility task names take `inputs.image` or `inputs.video`; route on which is set."""

    async def build(engine: Engine, task: dict[str, Any], base_url: str) -> Work:
        inputs = task.get("inputs")
        if isinstance(inputs, dict) and inputs.get("video") is not None:
            return await video_builder(engine, task, base_url)
        return await image_builder(engine, task, base_url)

    return build


BUILDERS: dict[str, Builder] = {
    **tasks.BUILDERS,
    "caption": _with_video(tasks.caption, video_caption),
    "upscale": _with_video(tasks.upscale, video_upscale),
    "removeBackground": _with_video(tasks.remove_background, video_remove_background),
    "videoInference": video_inference,
    "audioInference": audio_inference,
    "3dInference": three_d_inference,
}
