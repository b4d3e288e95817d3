"""The content service (what the SDK's `client.content` reads from https://content.runware.ai):
curated model metadata with capabilities and pricing, collections, creators, capabilities.

Served by the simulator under `/content/` with the real service's paths (`/content/models`,
`/content/models/<id>/pricing`, …). Each runnable model's pricing examples are computed with
the simulator's own price functions, so an estimate read from the catalogue equals what a
task with that configuration is charged.

`sdk_session(base_url)` gives an aiohttp session to inject into the SDK
(`Runware(dependencies=RuntimeDependencies(session=...))`): it sends the SDK's requests for
content.runware.ai to the simulator and leaves every other request alone.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal
from functools import cache
from typing import Any

import aiohttp
from yarl import URL

from . import catalog, mediacatalog, pricing

CONTENT_HOST = "content.runware.ai"
CONTENT_PREFIX = "/content"
_CATEGORY = {
    "imageInference": "image", "upscale": "image", "removeBackground": "image", "imageMasking": "image",
    "controlNetPreprocess": "image", "vectorize": "image", "videoInference": "video", "audioInference": "audio",
    "textInference": "text", "caption": "text", "promptEnhance": "text", "3dInference": "3d",
}
_CAPABILITY_LABELS = {
    "text-to-image": "Text to Image", "image-to-image": "Image to Image", "text-to-video": "Text to Video",
    "image-to-video": "Image to Video", "text-to-speech": "Text to Speech", "text-to-music": "Text to Music",
    "text-to-audio": "Text to Audio", "text-to-3d": "Text to 3D", "image-to-3d": "Image to 3D",
    "text-to-text": "Text to Text", "image-to-text": "Image to Text", "video-to-text": "Video to Text",
    "image-upscale": "Image Upscale", "video-upscale": "Video Upscale",
    "image-background-removal": "Image Background Removal",
    "video-background-removal": "Video Background Removal", "image-masking": "Image Masking",
    "controlnet-preprocess": "ControlNet Preprocess", "prompt-enhance": "Prompt Enhance",
    "vectorize": "Vectorize", "training": "Training", "tools": "Tools",
}
_SIMULATED_TASK_TYPES = frozenset(_CATEGORY) - {"vectorize"}


def money(amount: Decimal) -> str:
    """`$0.0256`: the content service's price notation, exact (no exponent, no trailing zeros)."""
    return "$" + format(amount.normalize(), "f")


# --------------------------------------------------------------------- metadata


def _capabilities(air: str, task_type: str) -> list[str]:
    if task_type == "imageInference":
        return ["text-to-image", "image-to-image"]
    if task_type == "videoInference":
        frames = mediacatalog.video_spec(air).frame_images
        return ["text-to-video", *(["image-to-video"] if frames else [])]
    if task_type == "audioInference":
        kind = mediacatalog.audio_spec(air).kind
        return [{"speech": "text-to-speech", "music": "text-to-music"}.get(kind, "text-to-audio")]
    if task_type == "3dInference":
        return [f"{source}-to-3d" for source in sorted(mediacatalog.three_d_spec(air).inputs, reverse=True)]
    if task_type == "caption":
        return ["image-to-text", *(["video-to-text"] if air in mediacatalog.VIDEO_CAPTION_MODELS else [])]
    if task_type == "upscale":
        return ["video-upscale" if air in mediacatalog.VIDEO_UPSCALE_MODELS else "image-upscale"]
    if task_type == "removeBackground":
        video = air in mediacatalog.VIDEO_BACKGROUND_MODELS
        return ["video-background-removal" if video else "image-background-removal"]
    simple = {"textInference": "text-to-text", "imageMasking": "image-masking",
              "controlNetPreprocess": "controlnet-preprocess", "promptEnhance": "prompt-enhance"}
    return [simple.get(task_type, task_type)]


def _category(air: str, task_type: str) -> str:
    if air in mediacatalog.VIDEO_UPSCALE_MODELS or air in mediacatalog.VIDEO_BACKGROUND_MODELS:
        return "video"
    return _CATEGORY.get(task_type, "image")


def _examples(air: str, task_type: str) -> tuple[str, list[tuple[str, Decimal]]] | None:
    """(overview, [(configuration, price)]) from the simulator's own prices; None when not simulated."""
    if task_type == "videoInference":
        spec = mediacatalog.video_spec(air)
        width, height = spec.default_size
        durations = spec.durations or tuple(sorted({spec.duration_range[0], spec.default_duration, spec.duration_range[1]}))
        return (
            f"{money(spec.price_per_second)} per second of video, at any resolution.",
            [(f"{d}s · {width}x{height}", pricing.quantize(spec.price_per_second * d)) for d in durations],
        )
    if task_type == "audioInference":
        audio = mediacatalog.audio_spec(air)
        if audio.kind == "speech":
            return (
                f"{money(audio.price)} per 1,000 characters of text.",
                [(f"{n:,} characters", pricing.quantize(audio.price * n / 1000)) for n in (100, 1000)],
            )
        seconds = sorted({audio.duration_range[0], audio.default_duration})
        return (
            f"{money(audio.price)} per second of audio.",
            [(f"{s}s", pricing.quantize(audio.price * s)) for s in seconds],
        )
    if task_type == "3dInference":
        price = mediacatalog.three_d_spec(air).price
        return f"{money(price)} per 3D model.", [("1 model", price)]
    tool = (
        mediacatalog.VIDEO_UPSCALE_MODELS.get(air)
        or mediacatalog.VIDEO_BACKGROUND_MODELS.get(air)
    )
    if tool is not None:
        return (
            f"{money(tool.price_per_second)} per second of input video.",
            [("10s", pricing.quantize(tool.price_per_second * 10))],
        )
    return _image_and_text_examples(air, task_type)


def _image_and_text_examples(air: str, task_type: str) -> tuple[str, list[tuple[str, Decimal]]] | None:
    if task_type == "imageInference":
        model = catalog.get_model(air)
        steps = model.defaults.steps if model and model.defaults else 20
        sizes = ((1024, 1024), (512, 512))
        return (
            f"{money(pricing.IMAGE_BASE)} per image plus {money(pricing.IMAGE_PER_MEGAPIXEL_STEP)} per megapixel "
            "per step.",
            [(f"{w}x{h} · {steps} steps", pricing.image_cost(
                width=w, height=h, steps=steps, adapters=0, controlnets=0, refiner=False)) for w, h in sizes],
        )
    if task_type == "textInference":
        return (
            f"{money(pricing.TEXT_PER_PROMPT_TOKEN * 1_000_000)} per million prompt tokens, "
            f"{money(pricing.TEXT_PER_COMPLETION_TOKEN * 1_000_000)} per million completion tokens.",
            [("1,000 prompt + 500 completion tokens", pricing.text_cost(1000, 500))],
        )
    if task_type == "caption":
        video = mediacatalog.VIDEO_CAPTION_MODELS.get(air)
        examples = [("1 image", pricing.CAPTION)]
        if video is not None:
            examples.append(("10s video", pricing.quantize(video.price_per_second * 10)))
        return f"{money(pricing.CAPTION)} per image.", examples
    if task_type == "upscale":
        return (
            f"{money(pricing.UPSCALE_BASE)} plus {money(pricing.UPSCALE_PER_OUTPUT_MEGAPIXEL)} per output megapixel.",
            [("1024x1024 → 2048x2048", pricing.upscale_cost(2048, 2048))],
        )
    flat = {"removeBackground": pricing.REMOVE_BACKGROUND, "imageMasking": pricing.IMAGE_MASKING,
            "controlNetPreprocess": pricing.CONTROLNET_PREPROCESS,
            "promptEnhance": pricing.PROMPT_ENHANCE_PER_VERSION}.get(task_type)
    if flat is None:
        return None
    return f"{money(flat)} per result.", [("1 result", flat)]


@cache
def _models() -> tuple[dict[str, Any], ...]:
    """Every official model's metadata, without URLs (they depend on the address the client used)."""
    result = []
    for index, (air, slug, task_type) in enumerate(catalog.official_entries()):
        info = catalog.get_model(air)
        name = info.name if info else slug
        creator = air.split(":", 1)[0]
        examples = _examples(air, task_type) if task_type in _SIMULATED_TASK_TYPES else None
        entry: dict[str, Any] = {
            "model": slug,
            "air": air,
            "name": name,
            "creator": creator,
            "capabilities": _capabilities(air, task_type),
            "architecture": info.architecture if info else creator,
            "hosted": True,
            "status": "live",
            "releasedAt": f"{2024 + index % 3}-{1 + index % 12:02d}-{1 + index % 28:02d}T00:00:00Z",
            "weight": float(1000 - index),
            "headline": f"{name}: {task_type} on Runware.",
            "description": f"{name} ({air}), a curated {task_type} model, simulated offline.",
            "category": _category(air, task_type),
            "taskType": task_type,
        }
        if examples is not None:
            overview, pairs = examples
            entry["pricingOverview"] = overview
            entry["pricingExamples"] = [{"configuration": c, "price": money(p)} for c, p in pairs]
        result.append(entry)
    return tuple(result)


def _public(entry: dict[str, Any], base_url: str) -> dict[str, Any]:
    slug = catalog.get_model(entry["air"])
    cover = f"{base_url}/hero/{slug.slug}.jpg" if slug else ""
    return {**{k: v for k, v in entry.items() if k not in ("category", "taskType")}, "coverImage": cover,
            "ogImage": cover}


def find(model_id: str) -> dict[str, Any] | None:
    """A model by its content id (`klingai-video-3-0-pro`) or its AIR."""
    return next((m for m in _models() if model_id in (m["model"], m["air"])), None)


# ------------------------------------------------------------------------ answers


def list_models(query: dict[str, str], base_url: str) -> object:
    found = [m for m in _models() if _matches(m, query)]
    key = query.get("sort", "weight")
    sort_keys: dict[str, Callable[[dict[str, Any]], Any]] = {
        "weight": lambda m: m["weight"], "popularity": lambda m: m["weight"],
        "releasedAt": lambda m: m["releasedAt"], "newest": lambda m: m["releasedAt"],
        "name": lambda m: m["name"].lower(), "alpha": lambda m: m["name"].lower(),
        "creator": lambda m: (m["creator"], m["name"].lower()),
    }
    descending_by_default = key in ("weight", "popularity", "releasedAt", "newest")
    order = query.get("order", "desc" if descending_by_default else "asc")
    found.sort(key=sort_keys.get(key, sort_keys["weight"]), reverse=order == "desc")
    offset = _int(query.get("offset"), 0)
    limit = _int(query.get("limit"), len(found))
    page = [_public(m, base_url) for m in found[offset : offset + limit]]
    if query.get("paginate") == "true":
        return {"total": len(found), "limit": limit, "offset": offset, "items": page}
    return page


def _int(raw: str | None, default: int) -> int:
    try:
        return max(0, int(raw)) if raw is not None else default
    except ValueError:
        return default


def _matches(model: dict[str, Any], query: dict[str, str]) -> bool:
    search = query.get("q", "").lower()
    haystack = " ".join((model["model"], model["air"], model["name"], model["headline"])).lower()
    return (
        ("category" not in query or model["category"] == query["category"])
        and ("capability" not in query or query["capability"] in model["capabilities"])
        and ("status" not in query or model["status"] == query["status"])
        and ("creator" not in query or model["creator"] == query["creator"])
        and all(word in haystack for word in search.split())
    )


def pricing_of(model_id: str, base_url: str) -> dict[str, Any] | None:
    model = find(model_id)
    if model is None or "pricingExamples" not in model:
        return None
    return {
        "model": model["model"], "air": model["air"], "name": model["name"], "status": model["status"],
        "coverImage": _public(model, base_url)["coverImage"], "releasedAt": model["releasedAt"],
        "pricingOverview": model["pricingOverview"], "pricingExamples": model["pricingExamples"],
        "category": [model["category"]],
    }


def capabilities() -> list[dict[str, str]]:
    used = {c for m in _models() for c in m["capabilities"]}
    return [{"id": c, "label": _CAPABILITY_LABELS.get(c, c)} for c in sorted(used)]


def creators(base_url: str) -> list[dict[str, Any]]:
    by_creator: dict[str, list[dict[str, Any]]] = {}
    for model in _models():
        by_creator.setdefault(model["creator"], []).append(_public(model, base_url))
    return [
        {"id": c, "name": c.capitalize(), "headline": f"Models by {c.capitalize()}.", "description": "",
         "models": models}
        for c, models in sorted(by_creator.items())
    ]


def collections(base_url: str, category: str | None = None) -> list[dict[str, Any]]:
    result = []
    for order, kind in enumerate(("image", "video", "audio", "text", "3d")):
        if category is not None and category != kind:
            continue
        models = [_public(m, base_url) for m in _models() if m["category"] == kind]
        result.append({
            "id": f"{kind}-models", "name": f"{kind.upper() if kind == '3d' else kind.capitalize()} models",
            "order": float(order), "headline": f"Every curated {kind} model.", "description": "",
            "category": [kind], "models": models,
        })
    return result


# --------------------------------------------------------------- SDK redirection


def sdk_session(base_url: str) -> aiohttp.ClientSession:
    """A session whose requests to content.runware.ai go to the simulator at `base_url` instead."""
    target = URL(base_url)

    async def redirect(
        request: aiohttp.ClientRequest,
        handler: Callable[[aiohttp.ClientRequest], Awaitable[aiohttp.ClientResponse]],
    ) -> aiohttp.ClientResponse:
        if request.url.host == CONTENT_HOST:
            request.url = target.with_path(CONTENT_PREFIX + request.url.path).with_query(request.url.query)
            request.headers["Host"] = target.raw_authority
        return await handler(request)

    return aiohttp.ClientSession(middlewares=(redirect,))
