"""The simulator's model catalogue.

Two parts:

* every model of runware-sdk's bundled registry (`runware.models`, the curated
  "official" models) with the task type the SDK knows it by;
* a generated "community" catalogue of checkpoints, LoRAs, LyCORIS, ControlNets,
  VAEs and embeddings for several architectures, built from a fixed random seed
  so it is identical on every start.

The portal may use `default_models()` to fill model pickers and `get_model()`
to describe a model; the server uses `search()` for `modelSearch`.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache

from runware import models as _sdk_models

from . import mediacatalog


@dataclass(frozen=True)
class _Entry:
    id: str
    task_type: str

# Legacy task names still accepted by the simulator, mapped to the current name.
LEGACY_TASK_TYPES: dict[str, str] = {
    "imageCaption": "caption",
    "imageUpscale": "upscale",
    "imageBackgroundRemoval": "removeBackground",
    "imageControlNetPreProcess": "controlNetPreprocess",
}

_DEFAULTS: dict[str, tuple[str, ...]] = {
    "imageInference": ("runware:101@1", "runware:100@1", "civitai:101055@128078", "runware:5@1"),
    "textInference": (
        "google:gemma@4-31b",
        "openai:gpt@5-mini",
        "anthropic:claude@haiku-4.5",
        "minimax:m2.7@0",
    ),
    "caption": ("runware:150@2", "runware:152@1", "runware:152@2", "runware:151@1"),
    "upscale": ("runware:504@1", "runware:500@1", "runware:501@1", "runware:503@1"),
    "removeBackground": ("runware:109@1", "runware:112@1", "runware:112@5", "runware:112@9"),
    "imageMasking": tuple(f"runware:35@{n}" for n in range(1, 16)),
    "controlNetPreprocess": tuple(
        f"runware:controlnet-preprocess@{kind}"
        for kind in (
            "canny",
            "depth",
            "mlsd",
            "normalbae",
            "openpose",
            "tile",
            "seg",
            "lineart",
            "lineart-anime",
            "shuffle",
            "scribble",
            "softedge",
        )
    ),
    "promptEnhance": ("runware:llama-3-1-8b@prompt-enhancer",),
    "videoInference": (
        "klingai:kling-video@3-standard",
        "google:3@3",
        "bytedance:seedance@2.0-fast",
        "lightricks:ltx@2.3-fast",
        "minimax:4@1",
    ),
    "audioInference": ("minimax:speech@2.8", "elevenlabs:25@1", "minimax:music@2.6", "mirelo:1@1"),
    "3dInference": ("tencent:hunyuan-3d@3.1-rapid", "microsoft:trellis-2@4b", "tripo:v3.1@0"),
}

# Text models that emit "thinking" (`reasoningContent`) even without settings.thinking.
_REASONING_TEXT_MODELS = frozenset(
    {
        "minimax:m2.7@0",
        "minimax:m2.7@highspeed",
        "minimax:m3@0",
        "openai:gpt@5.4-pro",
        "google:gemini@3.1-pro",
        "anthropic:claude@opus-4.8",
        "zai:glm@5.1",
        "xai:grok@4.3",
    }
)

# Category reported by modelSearch for official models that are not image checkpoints.
_TASK_CATEGORY: dict[str, str] = {
    "imageInference": "checkpoint",
    "textInference": "text",
    "videoInference": "video",
    "audioInference": "audio",
    "3dInference": "3d",
    "caption": "caption",
    "upscale": "upscaler",
    "removeBackground": "background-removal",
    "imageMasking": "masking",
    "controlNetPreprocess": "controlnet-preprocessor",
    "promptEnhance": "prompt-enhancer",
    "vectorize": "vectorize",
    "training": "training",
    "tools": "tools",
}


@dataclass(frozen=True)
class ArchitectureDefaults:
    width: int
    height: int
    steps: int
    cfg: float
    scheduler: str


ARCHITECTURE_DEFAULTS: dict[str, ArchitectureDefaults] = {
    "sdxl": ArchitectureDefaults(1024, 1024, 30, 7.0, "DPM++ 2M Karras"),
    "sd1x": ArchitectureDefaults(512, 512, 25, 7.5, "Euler a"),
    "pony": ArchitectureDefaults(1024, 1024, 25, 6.0, "Euler a"),
    "illustrious": ArchitectureDefaults(1024, 1024, 28, 6.0, "Euler a"),
    "flux1d": ArchitectureDefaults(1024, 1024, 28, 3.5, "FlowMatchEulerDiscreteScheduler"),
    "flux1s": ArchitectureDefaults(1024, 1024, 4, 1.0, "FlowMatchEulerDiscreteScheduler"),
    "flux2": ArchitectureDefaults(1024, 1024, 28, 4.0, "FlowMatchEulerDiscreteScheduler"),
    "sd3": ArchitectureDefaults(1024, 1024, 28, 4.5, "Default"),
}
_FALLBACK_DEFAULTS = ArchitectureDefaults(1024, 1024, 20, 7.0, "Default")


@dataclass(frozen=True)
class ModelInfo:
    """One catalogue entry. `task_type` is None for add-ons (LoRA, VAE, ...) that cannot run alone."""

    air: str
    name: str
    version: str
    category: str
    architecture: str
    source: str  # "official" | "community"
    task_type: str | None = None
    type: str | None = None
    tags: tuple[str, ...] = ()
    private: bool = False
    popularity: int = 0
    added_at: int = 0
    updated_at: int = 0
    comment: str = ""
    conditioning: str | None = None
    positive_trigger_words: str | None = None
    reasoning: bool = False
    defaults: ArchitectureDefaults | None = field(default=None)

    @property
    def slug(self) -> str:
        """A path-safe name, used for the hero image URL."""
        return re.sub(r"[^a-z0-9]+", "-", self.air.lower()).strip("-")

    @property
    def nsfw(self) -> bool:
        return "nsfw" in self.tags

    def to_search_result(self, base_url: str) -> dict[str, object]:
        """The model object returned inside a `modelSearch` answer."""
        result: dict[str, object] = {
            "air": self.air,
            "name": self.name,
            "version": self.version,
            "category": self.category,
            "architecture": self.architecture,
            "tags": list(self.tags),
            "heroImage": f"{base_url}/hero/{self.slug}.jpg",
            "private": self.private,
            "comment": self.comment,
        }
        if self.type:
            result["type"] = self.type
        if self.conditioning:
            result["conditioning"] = self.conditioning
        if self.positive_trigger_words:
            result["positiveTriggerWords"] = self.positive_trigger_words
        if self.defaults is not None:
            result.update(
                {
                    "defaultWidth": self.defaults.width,
                    "defaultHeight": self.defaults.height,
                    "defaultSteps": self.defaults.steps,
                    "defaultCFG": self.defaults.cfg,
                    "defaultScheduler": self.defaults.scheduler,
                }
            )
            if self.type == "inpainting":
                result["defaultStrength"] = 1.0
        return result


# --------------------------------------------------------------------- official models


def _official_architecture(air: str, slug: str) -> str:
    rules = (
        ("flux-1-schnell", "flux1s"),
        ("flux-1", "flux1d"),
        ("flux-2", "flux2"),
        ("stable-diffusion-xl", "sdxl"),
        ("stable-diffusion-3", "sd3"),
    )
    for needle, architecture in rules:
        if needle in slug:
            return architecture
    return air.split(":", 1)[0]


_ACRONYMS = frozenset({"ai", "bfl", "gpt", "glm", "sd", "tts", "vl", "xl", "3d", "hd"})


def _official_name(slug: str) -> str:
    return " ".join(part.upper() if part in _ACRONYMS else part.capitalize() for part in slug.split("-"))


def official_entries() -> list[tuple[str, str, str]]:
    """(AIR, registry id, task type) of every official model: the SDK's registry plus the few media
    models Runware documents that the registry lacks."""
    entries = {air: (air, entry.id, entry.task_type) for air, entry in _sdk_models.items()}
    entries.update({air: (air, slug, task_type) for air, slug, task_type in mediacatalog.EXTRA_OFFICIAL_MODELS})
    return sorted(entries.values())


def _official_models() -> list[ModelInfo]:
    result = []
    for index, (air, entry_id, task_type) in enumerate(official_entries()):
        entry = _Entry(entry_id, task_type)
        architecture = _official_architecture(air, entry.id)
        is_image = entry.task_type == "imageInference"
        result.append(
            ModelInfo(
                air=air,
                name=_official_name(entry.id),
                version=air.split("@", 1)[1],
                category=_TASK_CATEGORY.get(entry.task_type, entry.task_type),
                architecture=architecture,
                source="official",
                task_type=entry.task_type,
                type="base" if is_image else None,
                tags=("official", entry.task_type),
                popularity=100_000 - index * 37,
                added_at=1_700_000_000 + index * 86_400,
                updated_at=1_710_000_000 + index * 86_400,
                comment=f"Curated {entry.task_type} model ({entry.id}).",
                reasoning=air in _REASONING_TEXT_MODELS,
                defaults=ARCHITECTURE_DEFAULTS.get(architecture, _FALLBACK_DEFAULTS) if is_image else None,
            )
        )
    return result


# -------------------------------------------------------------------- community models

_ADJECTIVES = (
    "Velvet",
    "Neon",
    "Silent",
    "Golden",
    "Crimson",
    "Azure",
    "Lucid",
    "Feral",
    "Gentle",
    "Iron",
    "Mystic",
    "Paper",
    "Solar",
    "Lunar",
    "Rustic",
    "Hyper",
    "Dream",
    "Frozen",
    "Wild",
    "Quiet",
)
_NOUNS = (
    "Horizon",
    "Alley",
    "Garden",
    "Forge",
    "Canvas",
    "Harbor",
    "Lantern",
    "Meadow",
    "Circuit",
    "Atlas",
    "Bloom",
    "Echo",
    "Prism",
    "Summit",
    "Tide",
    "Vista",
    "Ember",
    "Orchard",
    "Mirage",
    "Quill",
)
_STYLE_TAGS = (
    "photorealistic",
    "anime",
    "fantasy",
    "portrait",
    "landscape",
    "cinematic",
    "sci-fi",
    "illustration",
    "3d",
    "painterly",
    "architecture",
    "character",
    "concept art",
    "cartoon",
)
_CONDITIONINGS = ("canny", "depth", "openpose", "lineart", "scribble", "softedge", "tile", "seg", "mlsd")
_ARCH_SUFFIX = {
    "sdxl": "XL",
    "sd1x": "1.5",
    "pony": "Pony",
    "illustrious": "IL",
    "flux1d": "Flux",
    "flux1s": "Schnell",
    "sd3": "SD3",
}

# (category, type, architectures, count): the shape of the generated community catalogue.
_COMMUNITY_PLAN: tuple[tuple[str, str | None, tuple[str, ...], int], ...] = (
    (
        "checkpoint",
        "base",
        ("sdxl", "sdxl", "sd1x", "sd1x", "pony", "illustrious", "flux1d", "flux1s", "sd3"),
        72,
    ),
    ("checkpoint", "inpainting", ("sdxl", "sd1x", "flux1d"), 8),
    ("checkpoint", "refiner", ("sdxl",), 4),
    ("lora", None, ("sdxl", "sd1x", "pony", "illustrious", "flux1d"), 72),
    ("lycoris", None, ("sdxl", "sd1x"), 10),
    ("controlnet", None, ("sdxl", "sd1x", "flux1d"), 24),
    ("vae", None, ("sdxl", "sd1x"), 8),
    ("embeddings", "negative", ("sdxl", "sd1x"), 6),
    ("embeddings", "positive", ("sdxl", "sd1x"), 6),
)


def _community_models() -> list[ModelInfo]:
    rng = random.Random(20240601)
    used_ids: set[int] = set()
    result: list[ModelInfo] = []
    for category, model_type, architectures, count in _COMMUNITY_PLAN:
        for n in range(count):
            architecture = architectures[n % len(architectures)]
            model_id = rng.randint(100_000, 999_999)
            while model_id in used_ids:
                model_id = rng.randint(100_000, 999_999)
            used_ids.add(model_id)
            version_id = rng.randint(100_000, 1_999_999)
            base_name = f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)}"
            tags = tuple(sorted(set(rng.sample(_STYLE_TAGS, 3)) | {architecture, category}))
            if rng.random() < 0.08:
                tags = (*tags, "nsfw")
            conditioning = _CONDITIONINGS[n % len(_CONDITIONINGS)] if category == "controlnet" else None
            name = _community_name(base_name, category, architecture, conditioning)
            is_checkpoint = category == "checkpoint"
            private = category == "lora" and n < 4  # a few "owned" private LoRAs for visibility filters
            result.append(
                ModelInfo(
                    air=f"civitai:{model_id}@{version_id}",
                    name=name,
                    version=f"v{rng.randint(1, 6)}.{rng.randint(0, 9)}",
                    category=category,
                    architecture=architecture,
                    source="community",
                    task_type="imageInference" if is_checkpoint else None,
                    type=model_type,
                    tags=tags,
                    private=private,
                    popularity=rng.randint(10, 90_000),
                    added_at=1_680_000_000 + rng.randint(0, 60_000_000),
                    updated_at=1_745_000_000 + rng.randint(0, 20_000_000),
                    comment=f"Community {category} for {architecture}: {', '.join(t for t in tags[:3])}.",
                    conditioning=conditioning,
                    positive_trigger_words=_trigger_words(base_name)
                    if category in ("lora", "lycoris")
                    else None,
                    defaults=ARCHITECTURE_DEFAULTS[architecture] if is_checkpoint else None,
                )
            )
    return result


def _community_name(base_name: str, category: str, architecture: str, conditioning: str | None) -> str:
    suffix = _ARCH_SUFFIX[architecture]
    if category == "controlnet":
        return f"ControlNet {conditioning} {suffix} ({base_name})"
    if category == "vae":
        return f"{base_name} VAE {suffix}"
    if category == "embeddings":
        return f"{base_name} Embedding {suffix}"
    if category in ("lora", "lycoris"):
        return f"{base_name} {category.upper() if category == 'lora' else 'LyCORIS'} {suffix}"
    return f"{base_name} {suffix}"


def _trigger_words(base_name: str) -> str:
    return re.sub(r"[^a-z]+", "_", base_name.lower()) + "_style"


# ------------------------------------------------------------------------ public API


@cache
def all_models() -> tuple[ModelInfo, ...]:
    """Every model the simulator knows: official ones first, then the community catalogue."""
    return (*_official_models(), *_community_models())


@cache
def _by_air() -> dict[str, ModelInfo]:
    return {model.air: model for model in all_models()}


@cache
def _by_slug() -> dict[str, ModelInfo]:
    return {model.slug: model for model in all_models()}


def get_model(air: str) -> ModelInfo | None:
    return _by_air().get(air)


def get_model_by_slug(slug: str) -> ModelInfo | None:
    return _by_slug().get(slug)


def canonical_task_type(task_type: str) -> str:
    """Current name of a (possibly legacy) task type."""
    return LEGACY_TASK_TYPES.get(task_type, task_type)


def default_models(task_type: str) -> list[str]:
    """Model AIRs the portal can offer by default for a task type (legacy names accepted).

    Empty for task types the simulator does not run.
    """
    return list(_DEFAULTS.get(canonical_task_type(task_type), ()))


def is_air(value: str) -> bool:
    """Whether `value` looks like an AIR (`source:id@version`), the only form the API accepts."""
    return re.fullmatch(r"[a-z0-9][a-z0-9_.-]*:[A-Za-z0-9_.-]+@[A-Za-z0-9_.-]+", value) is not None


@dataclass(frozen=True)
class SearchQuery:
    search: str | None = None
    tags: tuple[str, ...] = ()
    category: str | None = None
    type: str | None = None
    architecture: str | None = None
    source: str | None = None
    conditioning: str | None = None
    visibility: str | None = None
    sort: str | None = None
    limit: int = 20
    offset: int = 0


SORT_KEYS = (
    "_score",
    "popularity",
    "-popularity",
    "name",
    "-name",
    "addedUnixTimestamp",
    "-addedUnixTimestamp",
    "updatedDateUnixTimestamp",
    "-updatedDateUnixTimestamp",
)


def search(query: SearchQuery) -> tuple[int, list[ModelInfo]]:
    """Filter, sort and page the catalogue. Returns (totalResults, page)."""
    terms = query.search.lower().split() if query.search else []
    matches = [
        model
        for model in all_models()
        if _matches(model, query) and all(term in _haystack(model) for term in terms)
    ]
    matches = _sorted(matches, query.sort, terms)
    return len(matches), matches[query.offset : query.offset + query.limit]


def _matches(model: ModelInfo, query: SearchQuery) -> bool:
    checks: Iterable[bool] = (
        query.category is None or model.category == query.category,
        query.type is None or model.type == query.type,
        query.architecture is None or model.architecture == query.architecture,
        query.source is None or model.source == query.source,
        query.conditioning is None or model.conditioning == query.conditioning,
        all(tag.lower() in model.tags for tag in query.tags),
        _visible(model, query.visibility),
    )
    return all(checks)


def _visible(model: ModelInfo, visibility: str | None) -> bool:
    if visibility == "public":
        return not model.private
    if visibility in ("private", "owned"):
        return model.private
    return visibility != "favorite"  # the simulated account has no favourites; None / "all": everything


@cache
def _haystack(model: ModelInfo) -> str:
    return " ".join(
        (model.air, model.name, model.version, model.architecture, model.comment, *model.tags)
    ).lower()


def _sorted(models: list[ModelInfo], sort: str | None, terms: list[str]) -> list[ModelInfo]:
    if sort in (None, "_score"):
        return sorted(models, key=lambda m: (-_score(m, terms), -m.popularity, m.air))
    descending = sort.startswith("-")
    key = sort.lstrip("-")
    if key == "name":
        return sorted(models, key=lambda m: (m.name.lower(), m.air), reverse=descending)
    if key == "addedUnixTimestamp":
        return sorted(models, key=lambda m: (m.added_at, m.air), reverse=descending)
    if key == "updatedDateUnixTimestamp":
        return sorted(models, key=lambda m: (m.updated_at, m.air), reverse=descending)
    return sorted(models, key=lambda m: (m.popularity, m.air), reverse=descending)


def _score(model: ModelInfo, terms: list[str]) -> int:
    name = model.name.lower()
    return sum(3 if term in name else 1 for term in terms)
