"""Reading what Runware sent back: which output an item is, what it cost, how a task failed."""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from decimal import Decimal, InvalidOperation
from typing import Any

from runware import create_runware_error

from runware_web.upstream.errors import UpstreamError, from_sdk

log = logging.getLogger(__name__)

# Keys that identify one output of a task (the SDK's own de-duplication order, §7.7).
_RESULT_ID_KEYS = (
    "imageUUID", "videoUUID", "audioUUID", "modelUUID", "maskImageUUID", "guideImageUUID", "mediaUUID",
)


def result_key(item: dict[str, Any], fallback: str) -> str:
    """Which output of a task an item is, the way the SDK de-duplicates them."""
    index = item.get("resultIndex")
    if isinstance(index, int):
        return f"#{index}"
    for key in _RESULT_ID_KEYS:
        value = item.get(key)
        if isinstance(value, str) and value:
            return value
    return fallback


def parse_cost(value: Any) -> Decimal | None:
    """Runware reports cost as a JSON number; keep exactly the digits it sent."""
    if value is None or isinstance(value, bool):
        return None
    try:
        cost = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return cost if cost.is_finite() and cost >= 0 else None


def item_error(nested: dict[str, Any]) -> UpstreamError:
    """The error of an item whose status is "error" (from getResponse), mapped as the SDK's are."""
    exc = create_runware_error(
        str(nested.get("code") or "unknownError"),
        str(nested.get("message") or "The task failed."),
    )
    error = from_sdk(exc)
    error.parameter = error.parameter or str(nested.get("parameter") or "")
    return error


async def handled(call: Awaitable[str | None]) -> str:
    """The HTML a handler's method returned; "" should it raise (logged: the task goes on)."""
    try:
        return await call or ""
    except Exception:
        log.exception("A task handler failed")
        return ""
