"""Per-key limits of the endpoint: open sockets, and tasks started a minute.

Sockets: each authenticated `/v1` socket holds one of its key's
`settings.ENDPOINT_MAX_CONNECTIONS_PER_KEY` slots, kept in Django's cache (Redis in production, so
every worker counts the same sockets) exactly as the page sockets' slots are (live.tabs: taken
with an atomic `add`, renewed while the socket lives, expiring if its worker dies). A script is
not a page that navigates: one over the cap is refused at once, not after a grace period.

Tasks: the key's tasks started in the last minute (its EndpointCall rows), checked before a task
is submitted when the key was refused lately, and always in its admission, with the key's member
locked (two workers admitting the same key at once are weighed one after the other), counted in
the lock's own round trip. The member's own rate limit applies as well.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import Min, QuerySet
from django.utils import timezone

from runware_web.endpoint.models import ApiKey, EndpointCall
from runware_web.lib.outages import CACHE
from runware_web.live.tabs import SLOT_SECONDS
from runware_web.upstream.errors import Refused


def slot_keys(key_id: Any, cap: int) -> list[str]:
    return [f"endpoint.sockets.{key_id}.{number}" for number in range(cap)]


async def take_socket_slot(key: ApiKey, token: str) -> str | None:
    """The cache key of the slot this socket now holds, None when nothing is counted (the limit is
    off, or the cache is away: the limit guards against runaway scripts, not outages). Raises
    Refused (rateLimit) when every slot of the key is held."""
    cap = settings.ENDPOINT_MAX_CONNECTIONS_PER_KEY
    if cap <= 0:
        return None
    names = slot_keys(key.pk, cap)
    try:
        held = await cache.aget_many(names)
        for name in names:
            if name not in held and await cache.aadd(name, token, SLOT_SECONDS):
                CACHE.succeeded()
                return name
    except Exception as exc:  # whatever the backend raises
        CACHE.failed(exc)
        return None
    CACHE.succeeded()
    raise Refused(
        f"Key “{key.name}” already has {cap} connections open, the most one key may have. Close one, "
        "share one connection between your tasks, or make another key.",
        code="rateLimit",
    )


def task_rate_refusal(key: ApiKey, *, started: int | None = None) -> Refused | None:
    """The refusal when the key has started as many tasks in the last minute as it may.

    `started`: how many it started, as the admission counted them (keys.started_this_minute: read
    with the member's lock, without a round trip of its own); counted here without it."""
    limit = settings.ENDPOINT_TASKS_PER_MINUTE_PER_KEY
    if not limit:
        return None

    def recent() -> QuerySet[EndpointCall]:
        return EndpointCall.objects.filter(key=key, created_at__gte=timezone.now() - timedelta(minutes=1))

    count = recent().count() if started is None else started
    if count < limit:
        return None
    oldest = recent().aggregate(oldest=Min("created_at"))["oldest"]
    wait = max(1, int((oldest + timedelta(minutes=1) - timezone.now()).total_seconds()) + 1) if oldest else 60
    return Refused(
        f"Key “{key.name}” has started {count} tasks in the last minute; the limit is {limit} a minute per key. "
        f"Try again in {wait} seconds.",
        code="rateLimit",
    )


def send_started_count(key_id: Any) -> Callable[[], int]:
    """How many tasks the key started in the last minute, sent now and read when the returned
    function is called: in the admission's pipelined trip, it goes with the lock of the key's
    member, after it, so that it counts what the lock's last holder wrote (keys.read_ahead)."""
    return EndpointCall.objects.send_started_count(key_id, timezone.now() - timedelta(minutes=1))
