"""A model's own defaults (size and steps), read from Runware's catalogue with `modelSearch`.

What a generation costs follows its width, height and steps, and a request that leaves them out
runs with the model's own defaults: the price estimate must know them (money.prices). This is the
small look-up money needs; the catalog feature has its own, richer search for pages.

Looked up before admission (the runner's and the features' async entry points), never inside it.
What Runware said is kept in Django's cache: fresh for `FRESH_SECONDS`, then asked again; the
last answer for `LAST_KNOWN_SECONDS` more, used while Runware cannot be reached. A model Runware
does not know, or one whose defaults cannot be had at all, is None: the estimate then assumes the
dearest defaults (money.prices.UNKNOWN_MODEL_DEFAULTS).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
from dataclasses import asdict, dataclass
from typing import Any

from django.core.cache import cache
from runware import RunOptions

from runware_web.upstream.client import shared_client

logger = logging.getLogger(__name__)

FRESH_SECONDS = 60 * 60  # a model's defaults rarely change; ask again after an hour
LAST_KNOWN_SECONDS = 30 * 24 * 60 * 60  # what Runware last said, for when it cannot be reached
NOT_FOUND_SECONDS = 5 * 60  # a model Runware does not know (yet): ask again after a few minutes
RETRY_SECONDS = 30  # after a failed look-up, how long the last-known answer stands before asking again
LOOKUP_TIMEOUT_SECONDS = 5.0  # a submit waits at most this for Runware; then the last-known answer
_KEY_VERSION = "v1"


@dataclass(frozen=True)
class ModelDefaults:
    """What a model runs with when a request leaves these out (None: the catalogue does not say)."""

    width: int | None = None
    height: int | None = None
    steps: int | None = None

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> ModelDefaults:
        return cls(width=_positive(data.get("defaultWidth")), height=_positive(data.get("defaultHeight")),
                   steps=_positive(data.get("defaultSteps")))


async def model_defaults(air: str) -> ModelDefaults | None:
    """The model's defaults: cached, else from Runware, else the last known; None when unknown."""
    if not air:
        return None
    fresh = await _cache_get(_fresh_key(air))
    if fresh is not None:
        return _read(fresh)
    try:
        found = await _ask_runware(air)
    except Exception as exc:  # every SDK, network or timeout failure: Runware cannot say now
        logger.info("Model defaults of %s could not be looked up (%s); using the last known.", air,
                    type(exc).__name__)
        last = await _cache_get(_last_key(air))
        await _cache_set(_fresh_key(air), last or {"defaults": None}, RETRY_SECONDS)
        return _read(last) if last is not None else None
    entry = {"defaults": asdict(found) if found is not None else None}
    await _cache_set(_fresh_key(air), entry, FRESH_SECONDS if found is not None else NOT_FOUND_SECONDS)
    if found is not None:
        await _cache_set(_last_key(air), entry, LAST_KNOWN_SECONDS)
    return found


def known_defaults(air: str) -> ModelDefaults | None:
    """The model's defaults as last looked up, from the cache alone (sync code; no upstream call)."""
    if not air:
        return None
    try:
        entry = cache.get(_fresh_key(air)) or cache.get(_last_key(air))
    except Exception:  # the cache being down is a miss, not an error
        return None
    return _read(entry) if entry is not None else None


async def _ask_runware(air: str) -> ModelDefaults | None:
    """Search the catalogue for the AIR; None when Runware has no such model."""
    client = await shared_client()
    options = RunOptions(timeout=int(LOOKUP_TIMEOUT_SECONDS * 1000))
    items = await asyncio.wait_for(client.model_search({"search": air.lower(), "limit": 5}, options),
                                   timeout=LOOKUP_TIMEOUT_SECONDS + 1)
    for item in items or ():
        for model in (item.get("results") or []) if isinstance(item, dict) else ():
            if isinstance(model, dict) and str(model.get("air", "")).lower() == air.lower():
                return ModelDefaults.from_api(model)
    return None


def _read(entry: Any) -> ModelDefaults | None:
    data = entry.get("defaults") if isinstance(entry, dict) else None
    return ModelDefaults(**data) if isinstance(data, dict) else None


async def _cache_get(key: str) -> Any:
    try:
        return await cache.aget(key)
    except Exception:  # the cache being down is a miss, not an error
        return None


async def _cache_set(key: str, value: Any, seconds: int) -> None:
    try:
        await cache.aset(key, value, seconds)
    except Exception:  # nothing kept: the next submit asks Runware again
        logger.info("Model defaults could not be cached.")


def _fresh_key(air: str) -> str:
    return f"upstream:model-defaults:{_KEY_VERSION}:{hashlib.sha256(air.lower().encode()).hexdigest()}"


def _last_key(air: str) -> str:
    return f"upstream:model-defaults-last:{_KEY_VERSION}:{hashlib.sha256(air.lower().encode()).hexdigest()}"


def _positive(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return int(value) if value > 0 and value == int(value) else None
