"""Runware's model catalogue and its prices, read with the SDK's content client (`client.content`).

Runware publishes each curated model's pricing (`get_model_pricing`: an overview and examples such
as `"5s · 1280x720"` → `"$0.28"`) on its content service, https://content.runware.ai. The price
source (money.prices) reads from it what one second of video or audio, a thousand characters of
speech or one 3D model costs, in place of its built-in table.

Where the content service is: `RUNWARE_CONTENT_URL` when set; otherwise Runware's own when the
portal talks to Runware itself (`RUNWARE_HTTP_URL` on api.runware.ai), else the same paths under
`/content` on the host `RUNWARE_HTTP_URL` names: the simulator, which serves the catalogue too. The
SDK always calls content.runware.ai, so its requests are sent elsewhere by the aiohttp session
given to it (as the SDK allows: its content client takes whatever session it is handed).

Looked up before admission (the features' async entry points), never inside it. What the catalogue
said is kept in Django's cache: fresh for `FRESH_SECONDS` (an hour), then asked again; the last
answer for `LAST_KNOWN_SECONDS` (30 days) more, used, marked as such, while the catalogue cannot be
reached (asked again `RETRY_SECONDS` after a failure). A look-up waits at most
`LOOKUP_TIMEOUT_SECONDS`.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from django.conf import settings
from django.core.cache import cache
from runware.content import ContentClient
from yarl import URL

logger = logging.getLogger(__name__)

RUNWARE_CONTENT_URL = "https://content.runware.ai"  # where the SDK's content client always goes
RUNWARE_API_HOST = "api.runware.ai"
SIMULATOR_CONTENT_PATH = "/content"
FRESH_SECONDS = 60 * 60  # a model's price is asked again after an hour
LAST_KNOWN_SECONDS = 30 * 24 * 60 * 60  # what the catalogue last said, for when it cannot be reached
NOT_PRICED_SECONDS = 5 * 60  # a model the catalogue does not price (yet): asked again after a few minutes
RETRY_SECONDS = 30  # after a failed look-up, how long the last-known price stands before asking again
LOOKUP_TIMEOUT_SECONDS = 3.0  # an estimate waits at most this for the catalogue (in all); then the last known
_KEY_VERSION = "v1"


@dataclass(frozen=True)
class CataloguePrice:
    """What the catalogue says one unit of a model's output costs (None: it does not say).

    `as_of` is when the catalogue said so; `reachable` is False when it could not be reached just
    now and this is the last price it gave."""

    as_of: datetime
    per_second: Decimal | None = None  # of video or audio made
    per_thousand_characters: Decimal | None = None  # of text spoken
    per_result: Decimal | None = None  # a flat price per result (a 3D model)
    reachable: bool = True

    @property
    def is_empty(self) -> bool:
        return self.per_second is None and self.per_thousand_characters is None and self.per_result is None


def content_url() -> str:
    """The content service's address (see the module's docstring)."""
    if settings.RUNWARE_CONTENT_URL:
        return settings.RUNWARE_CONTENT_URL.rstrip("/")
    upstream = urlsplit(settings.RUNWARE_HTTP_URL)
    if upstream.hostname == RUNWARE_API_HOST:
        return RUNWARE_CONTENT_URL
    return f"{upstream.scheme}://{upstream.netloc}{SIMULATOR_CONTENT_PATH}"


async def model_pricing(air: str) -> CataloguePrice | None:
    """The model's price: cached, else from the catalogue, else the last known; None when unknown."""
    if not air:
        return None
    fresh = await _cache_get(_fresh_key(air))
    if fresh is not None:
        return _read(fresh)
    try:
        found = await asyncio.wait_for(_ask_catalogue(air), timeout=LOOKUP_TIMEOUT_SECONDS)
    except Exception as exc:  # every SDK, network or timeout failure: the catalogue cannot say now
        logger.info(
            "The catalogue's price of %s could not be looked up (%s); using the last known.",
            air,
            type(exc).__name__,
        )
        last = await _cache_get(_last_key(air))
        stale = {**last, "reachable": False} if isinstance(last, dict) else {"price": None}
        await _cache_set(_fresh_key(air), stale, RETRY_SECONDS)
        return _read(stale)
    entry = {"price": _write(found) if found is not None else None}
    await _cache_set(_fresh_key(air), entry, FRESH_SECONDS if found is not None else NOT_PRICED_SECONDS)
    if found is not None:
        await _cache_set(_last_key(air), entry, LAST_KNOWN_SECONDS)
    return found


def known_pricing(air: str) -> CataloguePrice | None:
    """The model's price as last looked up, from the cache alone (sync code; no upstream call)."""
    if not air:
        return None
    try:
        entry = cache.get(_fresh_key(air))
        if entry is None:
            last = cache.get(_last_key(air))
            entry = {**last, "reachable": False} if isinstance(last, dict) else None
    except Exception:  # the cache being down is a miss, not an error
        return None
    return _read(entry) if entry is not None else None


@asynccontextmanager
async def content_client() -> AsyncIterator[ContentClient]:
    """The SDK's content client, its requests sent to `content_url()` within the look-up timeout."""
    target = URL(content_url())
    middlewares = () if str(target) == RUNWARE_CONTENT_URL else (_redirect_to(target),)
    timeout = aiohttp.ClientTimeout(total=LOOKUP_TIMEOUT_SECONDS)
    async with aiohttp.ClientSession(timeout=timeout, middlewares=middlewares) as session:

        async def provide() -> aiohttp.ClientSession:
            return session

        yield ContentClient(provide)


def _redirect_to(target: URL) -> Any:
    """An aiohttp middleware sending the SDK's requests for content.runware.ai to `target`."""
    runware = URL(RUNWARE_CONTENT_URL)

    async def redirect(
        request: aiohttp.ClientRequest,
        handler: Callable[[aiohttp.ClientRequest], Awaitable[aiohttp.ClientResponse]],
    ) -> aiohttp.ClientResponse:
        if request.url.host == runware.host:
            path = target.path.rstrip("/") + request.url.path
            request.url = target.with_path(path).with_query(request.url.query)
            request.headers["Host"] = target.raw_authority
        return await handler(request)

    return redirect


async def _ask_catalogue(air: str) -> CataloguePrice | None:
    """The catalogue's pricing of the model (by its AIR, else found by search); None when unpriced."""
    async with content_client() as client:
        found: Any = await client.get_model_pricing(air)
        if found is None:  # the catalogue may know the model by its own id only
            listed = await client.list_models({"search": air.lower()})
            items = listed.get("items", []) if isinstance(listed, dict) else listed or []
            found = next(
                (m for m in items if isinstance(m, dict) and str(m.get("air", "")).lower() == air.lower()),
                None,
            )
    if not isinstance(found, dict):
        return None
    price = read_pricing(found, as_of=datetime.now(UTC))
    return None if price.is_empty else price


# -------------------------------------------------------------------- reading prices

_MONEY = re.compile(r"\$\s*([0-9][0-9,]*(?:\.[0-9]+)?)")
_SECONDS = re.compile(r"(?<![\w.])([0-9]+(?:\.[0-9]+)?)\s*(?:s|sec|secs|seconds?)\b", re.IGNORECASE)
_CHARACTERS = re.compile(r"([0-9][0-9,]*)\s*characters?\b", re.IGNORECASE)
_RESULTS = re.compile(r"^\s*([0-9]+)\s*(?:3D\s+)?(?:models?|results?|meshes?)\b", re.IGNORECASE)
_OVERVIEW = (
    ("per_second", re.compile(r"\$\s*([0-9.]+)\s+per\s+second", re.IGNORECASE)),
    ("per_thousand_characters", re.compile(r"\$\s*([0-9.]+)\s+per\s+1,?000\s+characters", re.IGNORECASE)),
    ("per_result", re.compile(r"\$\s*([0-9.]+)\s+per\s+(?:3D\s+)?(?:model|result)\b", re.IGNORECASE)),
)


def read_pricing(pricing: dict[str, Any], *, as_of: datetime) -> CataloguePrice:
    """The unit prices a model's `pricingExamples` show (each unit at the dearest example: the safe
    side), or, for a unit no example shows, its `pricingOverview`."""
    units: dict[str, list[Decimal]] = {"per_second": [], "per_thousand_characters": [], "per_result": []}
    for example in pricing.get("pricingExamples") or ():
        if not isinstance(example, dict):
            continue
        price = _amount(str(example.get("price") or ""))
        configuration = str(example.get("configuration") or "")
        if price is None:
            continue
        if (match := _CHARACTERS.search(configuration)) and (count := _count(match.group(1))):
            units["per_thousand_characters"].append(price * 1000 / count)
        elif (match := _SECONDS.search(configuration)) and (count := _count(match.group(1))):
            units["per_second"].append(price / count)
        elif (match := _RESULTS.search(configuration)) and (count := _count(match.group(1))):
            units["per_result"].append(price / count)
    overview = str(pricing.get("pricingOverview") or "")
    for unit, pattern in _OVERVIEW:
        if not units[unit] and (match := pattern.search(overview)):
            amount = _amount("$" + match.group(1).rstrip("."))
            if amount is not None:
                units[unit].append(amount)
    return CataloguePrice(
        as_of=as_of, **{unit: max(found) if found else None for unit, found in units.items()}
    )


def _amount(text: str) -> Decimal | None:
    match = _MONEY.search(text)
    if match is None:
        return None
    try:
        amount = Decimal(match.group(1).replace(",", ""))
    except InvalidOperation:
        return None
    return amount if amount.is_finite() and amount >= 0 else None


def _count(text: str) -> Decimal | None:
    try:
        count = Decimal(text.replace(",", ""))
    except InvalidOperation:
        return None
    return count if count > 0 else None


# -------------------------------------------------------------------- the cache


def _write(price: CataloguePrice) -> dict[str, Any]:
    def text(value: Decimal | None) -> str | None:
        return None if value is None else str(value)

    return {
        "as_of": price.as_of.isoformat(),
        "per_second": text(price.per_second),
        "per_thousand_characters": text(price.per_thousand_characters),
        "per_result": text(price.per_result),
    }


def _read(entry: Any) -> CataloguePrice | None:
    data = entry.get("price") if isinstance(entry, dict) else None
    if not isinstance(data, dict):
        return None
    try:
        price = CataloguePrice(
            as_of=datetime.fromisoformat(data["as_of"]),
            **{
                unit: None if data.get(unit) is None else Decimal(data[unit])
                for unit in ("per_second", "per_thousand_characters", "per_result")
            },
        )
    except (KeyError, TypeError, ValueError, InvalidOperation):  # written by another version: unknown
        return None
    return price if entry.get("reachable", True) else replace(price, reachable=False)


async def _cache_get(key: str) -> Any:
    try:
        return await cache.aget(key)
    except Exception:  # the cache being down is a miss, not an error
        return None


async def _cache_set(key: str, value: Any, seconds: int) -> None:
    try:
        await cache.aset(key, value, seconds)
    except Exception:  # nothing kept: the next estimate asks the catalogue again
        logger.info("A catalogue price could not be cached.")


def _fresh_key(air: str) -> str:
    return f"upstream:catalogue-price:{_KEY_VERSION}:{hashlib.sha256(air.lower().encode()).hexdigest()}"


def _last_key(air: str) -> str:
    return f"upstream:catalogue-price-last:{_KEY_VERSION}:{hashlib.sha256(air.lower().encode()).hexdigest()}"
