"""Views of the project itself, above every feature."""

from __future__ import annotations

import asyncio
from typing import TypedDict

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponseRedirect, JsonResponse
from django.templatetags.static import static
from django.views.decorators.http import require_safe

from runware_web.lib.cache import asafe_get
from runware_web.lib.outages import CACHE, CHANNEL_LAYER
from runware_web.media.pending import waiting_count
from runware_web.media.store import ROOM_NEEDED, free_space
from runware_web.upstream.status import UPSTREAM_OK, UPSTREAM_STATUS_KEY

CHECK_TIMEOUT = 3.0  # seconds a dependency has to answer before it counts as down
HEALTH_GROUP = "health"  # no socket joins it: a send to it only proves the layer takes messages
HEALTH_KEY = "runware-web:health"


class Check(TypedDict):
    ok: bool
    needed: bool  # whether this worker answers 503 while it is down
    backend: str
    detail: str  # for operators; never an address or a secret


@require_safe
@login_not_required
def favicon(request: HttpRequest) -> HttpResponseRedirect:
    """The portal's icon where browsers look for it unasked (/favicon.ico): on an image opened on its
    own or a JSON answer, no page declares one, and a 404 there is a console error on every visit."""
    response = HttpResponseRedirect(static("favicon.svg"))
    response["Cache-Control"] = "public, max-age=86400"
    return response


@require_safe
@login_not_required
async def health(request: HttpRequest) -> JsonResponse:
    """For load balancers and monitoring: each dependency, and 503 while one the portal needs is down.

    Needed: the database (every page and task), and when several workers share them through Redis,
    the channel layer (tabs on other workers hear of tasks through it) and the cache. Runware is
    reported but not needed: every worker reaches the same Runware, so taking workers out of
    rotation would not help, and pages, gallery and history work without it (pages say so).
    """
    checks = {
        "database": await _database(),
        "channel_layer": await _channel_layer(),
        "cache": await _cache(),
        "runware": await _runware(),
        "media": await _media(),
    }
    down = [name for name, check in checks.items() if check["needed"] and not check["ok"]]
    return JsonResponse({"status": "down" if down else "ok", "down": down, "checks": checks},
                        status=503 if down else 200)


def _select_one() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


async def _database() -> Check:
    check = Check(ok=True, needed=True, backend=connection.vendor, detail="answers")
    try:
        await asyncio.wait_for(sync_to_async(_select_one)(), CHECK_TIMEOUT)
    except Exception as exc:
        check.update(ok=False, detail=f"does not answer ({type(exc).__name__})")
    return check


async def _channel_layer() -> Check:
    backend = settings.CHANNEL_LAYERS["default"]["BACKEND"]
    shared = "InMemoryChannelLayer" not in backend
    check = Check(ok=True, needed=shared, backend="redis" if shared else "in-memory", detail="takes messages")
    layer = get_channel_layer()
    try:
        if layer is None:
            raise LookupError("no channel layer")
        await asyncio.wait_for(layer.group_send(HEALTH_GROUP, {"type": "health.ping"}), CHECK_TIMEOUT)
    except Exception as exc:
        CHANNEL_LAYER.failed(exc)
        check.update(ok=False, detail=f"cannot be reached ({type(exc).__name__}): live updates are paused")
    else:
        CHANNEL_LAYER.succeeded()
    return check


async def _cache() -> Check:
    shared = "RedisCache" in settings.CACHES["default"]["BACKEND"]
    check = Check(ok=True, needed=shared, backend="redis" if shared else "local memory", detail="answers")
    try:
        await asyncio.wait_for(cache.aset(HEALTH_KEY, "ok", 60), CHECK_TIMEOUT)
        await asyncio.wait_for(cache.aget(HEALTH_KEY), CHECK_TIMEOUT)
    except Exception as exc:
        CACHE.failed(exc)
        check.update(ok=False, detail=f"cannot be reached ({type(exc).__name__})")
    else:
        CACHE.succeeded()
    return check


def _media_state() -> tuple[int | None, int]:
    return free_space(), waiting_count()


async def _media() -> Check:
    """Whether the storage where images go has room, and how many billed results wait for it (the
    runner stores them once there is room). Reported, not needed: pages and tasks go on without it,
    and every worker writes to the same storage."""
    check = Check(ok=True, needed=False, backend="filesystem", detail="has room")
    try:
        free, waiting = await asyncio.wait_for(sync_to_async(_media_state)(), CHECK_TIMEOUT)
    except Exception as exc:
        check.update(ok=False, detail=f"cannot be checked ({type(exc).__name__})")
        return check
    if free is None:
        check.update(backend="object storage")
    else:
        check.update(ok=free >= ROOM_NEEDED, detail=f"{free // 1024 // 1024} MiB free" if free >= ROOM_NEEDED
                     else f"full ({free // 1024} KiB free): images cannot be stored")
    if waiting:
        check.update(ok=False, detail=f"{check['detail']}; {waiting} billed result{'s' if waiting != 1 else ''} "
                                      "waiting to be stored")
    return check


async def _runware() -> Check:
    """As the runner's upstream watch last saw it (upstream.status); unknown before it has looked."""
    status = await asafe_get(UPSTREAM_STATUS_KEY)
    backend = "simulator" if settings.RUNWARE_SIMULATED else "runware"
    return Check(ok=status == UPSTREAM_OK, needed=False, backend=backend, detail=status or "unknown")
