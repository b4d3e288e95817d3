"""What the base layout needs on every page."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest

from runware_web.lib.cache import safe_get
from runware_web.lib.outages import CACHE, CHANNEL_LAYER
from runware_web.upstream.status import UPSTREAM_OK, UPSTREAM_STATUS_KEY


def portal(request: HttpRequest) -> dict[str, object]:
    """The simulator flag, Runware's status, and whether live updates are paused.

    Never raises for Redis: a page renders whatever its cache and channel layer are doing."""
    # Written by the runner's upstream watch (see upstream.status); with the cache away, nothing is known.
    upstream_status = safe_get(UPSTREAM_STATUS_KEY, UPSTREAM_OK)
    return {
        "runware_simulated": settings.RUNWARE_SIMULATED,
        "upstream_status": upstream_status,
        "live_updates_paused": live_updates_paused(),
    }


def live_updates_paused() -> bool:
    """Whether tabs on other workers may miss updates now: the shared channel layer is away.

    Only a channel layer in Redis can go away. When the cache lives in the same Redis (settings:
    REDIS_URL), the page's own cache read just above is a fresh probe of it; otherwise the last
    push of this process says (runner.publish and live.layer note each failure and success).
    """
    if "InMemoryChannelLayer" in settings.CHANNEL_LAYERS["default"]["BACKEND"]:
        return False
    if "RedisCache" in settings.CACHES["default"]["BACKEND"]:
        return CACHE.down
    return CHANNEL_LAYER.down
