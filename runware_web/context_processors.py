from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def portal(request: HttpRequest) -> dict[str, object]:
    """What the base layout needs on every page."""
    return {"runware_simulated": settings.RUNWARE_SIMULATED}
