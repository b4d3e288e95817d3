"""Django's cache, read and written so that a cache that cannot be reached is a miss, not an error.

Everything the portal caches (model search answers, models by AIR, the upstream status) can be
asked again or done without, so when Redis is away a read answers the default and a write is
skipped; `outages.CACHE` logs the outage once. Pages and tasks go on.
"""

from __future__ import annotations

from typing import Any

from django.core.cache import cache

from runware_web.lib.outages import CACHE


def safe_get(key: str, default: Any = None) -> Any:
    try:
        value = cache.get(key, default)
    except Exception as exc:  # whatever the backend raises (redis-py's ConnectionError, TimeoutError, …)
        CACHE.failed(exc)
        return default
    CACHE.succeeded()
    return value


async def asafe_get(key: str, default: Any = None) -> Any:
    try:
        value = await cache.aget(key, default)
    except Exception as exc:
        CACHE.failed(exc)
        return default
    CACHE.succeeded()
    return value


async def asafe_set(key: str, value: Any, timeout: float | None) -> bool:
    """Store a value; False when the cache could not take it."""
    try:
        await cache.aset(key, value, timeout)
    except Exception as exc:
        CACHE.failed(exc)
        return False
    CACHE.succeeded()
    return True


async def asafe_set_many(values: dict[str, Any], timeout: float | None) -> bool:
    try:
        await cache.aset_many(values, timeout)
    except Exception as exc:
        CACHE.failed(exc)
        return False
    CACHE.succeeded()
    return True
