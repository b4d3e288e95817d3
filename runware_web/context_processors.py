from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

from runware_web.upstream.status import UPSTREAM_OK, UPSTREAM_STATUS_KEY


def portal(request: HttpRequest) -> dict[str, object]:
    """What the base layout needs on every page."""
    return {
        "runware_simulated": settings.RUNWARE_SIMULATED,
        # Written by the runner's upstream watch (see upstream.status).
        "upstream_status": cache.get(UPSTREAM_STATUS_KEY, UPSTREAM_OK),
    }
