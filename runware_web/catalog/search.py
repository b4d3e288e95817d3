"""Model search through the shared Runware client, cached in Django's cache.

`modelSearch` is a free utility call, not a task: no Task row, no charge. Answers are cached for
`settings.MODEL_SEARCH_CACHE_SECONDS`, keyed by the normalised parameters, so typing, paging and
the picker do not repeat upstream calls. Every model seen is also remembered by AIR for a day, so
the picker can show a chosen model's name without asking again.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.urls import reverse
from runware import RunOptions

from runware_web.catalog.forms import ARCHITECTURES
from runware_web.lib.cache import asafe_get, asafe_set, asafe_set_many, safe_get
from runware_web.upstream.client import shared_client
from runware_web.upstream.errors import UpstreamError, from_sdk

SEARCH_TIMEOUT_SECONDS = 20.0
MODEL_MEMORY_SECONDS = 24 * 60 * 60
_KEY_VERSION = "v1"

CATEGORY_LABELS = {
    "checkpoint": "Checkpoint", "lora": "LoRA", "lycoris": "LyCORIS", "controlnet": "ControlNet",
    "vae": "VAE", "embeddings": "Embedding",
}
ARCHITECTURE_LABELS = {value: label for value, label in ARCHITECTURES if value}

TIMEOUT_ERROR = UpstreamError(
    code="timeout",
    message="Runware took too long to answer the search. Try again in a moment.",
)


@dataclass(frozen=True)
class CatalogModel:
    """One model as `modelSearch` describes it, with what the portal offers to do with it."""

    air: str
    name: str
    version: str = ""
    category: str = ""
    architecture: str = ""
    type: str = ""
    tags: tuple[str, ...] = ()
    hero_image: str = ""
    private: bool = False
    comment: str = ""
    conditioning: str = ""
    trigger_words: str = ""
    default_width: int | None = None
    default_height: int | None = None
    default_steps: int | None = None
    default_cfg: float | int | None = None
    default_scheduler: str = ""
    default_weight: float | int | None = None

    @classmethod
    def from_api(cls, data: Any) -> CatalogModel | None:
        """Read one result of Runware's answer defensively; None when it names no model."""
        if not isinstance(data, dict) or not isinstance(data.get("air"), str) or not data["air"].strip():
            return None
        air = data["air"].strip()
        return cls(
            air=air,
            name=_text(data.get("name")) or air,
            version=_text(data.get("version")),
            category=_text(data.get("category")).lower(),
            architecture=_text(data.get("architecture")),
            type=_text(data.get("type")),
            tags=_tags(data.get("tags")),
            hero_image=_web_url(data.get("heroImage")),
            private=data.get("private") is True,
            comment=_text(data.get("comment")),
            conditioning=_text(data.get("conditioning")),
            trigger_words=_text(data.get("positiveTriggerWords")),
            default_width=_integer(data.get("defaultWidth")),
            default_height=_integer(data.get("defaultHeight")),
            default_steps=_integer(data.get("defaultSteps")),
            default_cfg=_number(data.get("defaultCFG")),
            default_scheduler=_text(data.get("defaultScheduler")),
            default_weight=_number(data.get("defaultWeight")),
        )

    def as_dict(self) -> dict[str, Any]:
        """What the cache keeps (plain data, so any cache backend can store it)."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CatalogModel:
        return cls(**{**data, "tags": tuple(data.get("tags", ()))})

    @property
    def category_label(self) -> str:
        return CATEGORY_LABELS.get(self.category, self.category.capitalize())

    @property
    def architecture_label(self) -> str:
        return ARCHITECTURE_LABELS.get(self.architecture, self.architecture)

    @property
    def version_label(self) -> str:
        return self.version if self.version[:1].isalpha() else f"v{self.version}"

    @property
    def nsfw(self) -> bool:
        return any(tag.lower() == "nsfw" for tag in self.tags)

    @property
    def is_checkpoint(self) -> bool:
        return self.category == "checkpoint"

    @property
    def is_lora(self) -> bool:
        return self.category == "lora"

    @property
    def is_controlnet(self) -> bool:
        return self.category == "controlnet"

    @property
    def lora_weight(self) -> float | int:
        return self.default_weight if self.default_weight is not None else 1

    @property
    def studio_defaults(self) -> dict[str, Any]:
        """The studio form fields (Runware names) this model suggests."""
        values = {
            "width": self.default_width,
            "height": self.default_height,
            "steps": self.default_steps,
            "CFGScale": self.default_cfg,
            "scheduler": self.default_scheduler,
        }
        return {name: value for name, value in values.items() if value not in (None, "")}

    @property
    def studio_url(self) -> str:
        """Open the studio with this checkpoint and its defaults (the studio URL contract)."""
        return _studio({"model": self.air, **self.studio_defaults})

    @property
    def lora_url(self) -> str:
        return _studio({"lora_model": self.air, "lora_weight": self.lora_weight})

    @property
    def controlnet_url(self) -> str:
        return _studio({"controlnet_model": self.air})


@dataclass(frozen=True)
class SearchPage:
    """One page of results, and where it sits in the whole answer."""

    models: list[CatalogModel]
    total: int
    offset: int
    limit: int

    @property
    def number(self) -> int:
        return self.offset // self.limit + 1

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.limit))

    @property
    def has_previous(self) -> bool:
        return self.offset > 0

    @property
    def has_next(self) -> bool:
        return self.offset + self.limit < self.total

    @property
    def first_shown(self) -> int:
        return self.offset + 1 if self.models else 0

    @property
    def last_shown(self) -> int:
        return self.offset + len(self.models)


def cache_key(params: dict[str, Any]) -> str:
    """The same search (whatever order its parameters came in) has the same key."""
    digest = hashlib.sha256(json.dumps(params, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    return f"catalog:search:{_KEY_VERSION}:{digest}"


def _model_key(air: str) -> str:
    return f"catalog:model:{_KEY_VERSION}:{hashlib.sha256(air.encode()).hexdigest()}"


async def search_models(params: dict[str, Any]) -> SearchPage:
    """One page of `modelSearch` results. Raises `UpstreamError` with a message for a person."""
    answer = await _cached_answer(params)
    models = [model for model in map(CatalogModel.from_api, answer["results"]) if model is not None]
    return SearchPage(models=models, total=answer["total"], offset=params.get("offset", 0),
                      limit=params.get("limit", 20))


async def _cached_answer(params: dict[str, Any]) -> dict[str, Any]:
    key = cache_key(params)
    answer = await asafe_get(key)  # the cache away is a miss: Runware is asked
    if answer is None:
        answer = await _ask_runware(params)
        if settings.MODEL_SEARCH_CACHE_SECONDS:
            await asafe_set(key, answer, settings.MODEL_SEARCH_CACHE_SECONDS)
        await _remember(answer["results"])
    return answer


async def _ask_runware(params: dict[str, Any]) -> dict[str, Any]:
    try:
        client = await shared_client()
        items = await asyncio.wait_for(
            client.model_search(dict(params), RunOptions(timeout=int(SEARCH_TIMEOUT_SECONDS * 1000))),
            timeout=SEARCH_TIMEOUT_SECONDS + 1,
        )
    except TimeoutError:
        raise TIMEOUT_ERROR from None
    except Exception as exc:  # every SDK or network failure
        raise from_sdk(exc) from exc
    item = next((item for item in items or () if isinstance(item, dict)), {})
    results = item.get("results") if isinstance(item.get("results"), list) else []
    total = item.get("totalResults")
    return {"total": total if isinstance(total, int) and total >= 0 else len(results), "results": results}


async def _remember(results: list[Any]) -> None:
    seen = {model.air: model for model in map(CatalogModel.from_api, results) if model is not None}
    if seen:
        await asafe_set_many({_model_key(air): model.as_dict() for air, model in seen.items()},
                             MODEL_MEMORY_SECONDS)


def known_model(air: str) -> CatalogModel | None:
    """A model seen in a recent search (no upstream call; safe in templates and sync code)."""
    data = safe_get(_model_key(air)) if air else None
    return CatalogModel.from_dict(data) if data else None


async def describe(air: str) -> CatalogModel | None:
    """A model by AIR: from memory, else by searching Runware for it. None when Runware has none."""
    if not air:
        return None
    data = await asafe_get(_model_key(air))
    if data:
        return CatalogModel.from_dict(data)
    page = await search_models({"search": air.lower(), "limit": 5, "offset": 0})
    return next((model for model in page.models if model.air.lower() == air.lower()), None)


async def describe_many(airs: list[str]) -> list[CatalogModel]:
    """Models for AIRs, in order; unknown ones (or ones Runware cannot describe now) by AIR only."""
    async def one(air: str) -> CatalogModel:
        try:
            return await describe(air) or CatalogModel(air=air, name=air)
        except UpstreamError:
            return CatalogModel(air=air, name=air)

    return list(await asyncio.gather(*(one(air) for air in airs)))


def _studio(params: dict[str, Any]) -> str:
    return f"{reverse('studio:index')}?{urlencode(params)}"


def _text(value: Any) -> str:
    return str(value).strip() if isinstance(value, str | int | float) and not isinstance(value, bool) else ""


def _tags(value: Any) -> tuple[str, ...]:
    """Tags as Runware sends them (a list; older answers: a comma-separated string)."""
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list | tuple):
        return ()
    return tuple(tag for tag in map(_text, value) if tag)


def _integer(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return int(value) if value == int(value) else None


def _number(value: Any) -> float | int | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return int(value) if value == int(value) else value


def _web_url(value: Any) -> str:
    return value if isinstance(value, str) and re.match(r"https?://", value) else ""
