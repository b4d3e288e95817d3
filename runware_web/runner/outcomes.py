"""Reading what Runware sent back: which output an item is, what it cost, how a task failed."""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from decimal import Decimal, InvalidOperation
from typing import Any

from runware import create_runware_error

from runware_web.lib.kinds import current_type
from runware_web.lib.money import usd
from runware_web.upstream.errors import UpstreamError, from_sdk
from runware_web.upstream.models import Task

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


# What one output of a task is called, by task type (singular, plural); "result" for the others.
_OUTPUTS = {
    "imageInference": ("image", "images"),
    "upscale": ("image", "images"),
    "removeBackground": ("image", "images"),
    "controlNetPreprocess": ("guide", "guides"),
    "imageMasking": ("mask", "masks"),
    "videoInference": ("video", "videos"),
    "audioInference": ("audio clip", "audio clips"),
    "3dInference": ("3D model", "3D models"),
    "caption": ("caption", "captions"),
    "promptEnhance": ("prompt", "prompts"),
    "textInference": ("reply", "replies"),
}
# Outputs the features keep in the member's gallery (the media store).
_IN_GALLERY = frozenset({
    "imageInference", "upscale", "removeBackground", "controlNetPreprocess", "imageMasking",
    "videoInference", "audioInference", "3dInference",
})


def forgotten(task: Task, *, restarted: bool) -> UpstreamError:
    """How a task ends that Runware no longer knows: what happened, what was kept, what was billed.

    `task` must hold what arrived (the ledger's writes keep its count and cost up to date)."""
    what = "Runware restarted and lost this task." if restarted else "Runware no longer knows this task."
    if not task.results_received:
        return _lost(f"{what} {_kept_and_billed(task)} Try again.")
    return _lost(f"{what} {_kept_and_billed(task)} Try again for the rest.")


def unrecovered(task: Task) -> UpstreamError:
    """How a task ends whose results could not be fetched in time after its connection dropped."""
    if not task.results_received:
        return _lost(
            "The connection to Runware was lost before the result arrived, and Runware did not return it "
            "in time. Nothing was billed for it so far, but Runware may still bill it: check History "
            "before trying again."
        )
    return _lost(
        "The connection to Runware was lost and the rest of this task did not come back in time. "
        f"{_kept_and_billed(task)} Runware may still bill for the rest: check History before trying again."
    )


def _kept_and_billed(task: Task) -> str:
    """"1 of 4 images arrived and is in your gallery; $0.0062 was billed for it." """
    task_type = current_type(task.task_type)
    one, many = _OUTPUTS.get(task_type, ("result", "results"))
    arrived = task.results_received
    if not arrived:
        return f"No {one} had arrived, and nothing was billed for it."
    count = f"{arrived} of {task.number_results} {one if task.number_results == 1 else many}"
    kept = "is in your gallery" if task_type in _IN_GALLERY else "was kept"
    if arrived > 1:
        kept = "are in your gallery" if task_type in _IN_GALLERY else "were kept"
    billed = f"{usd(task.cost)} was billed for {'it' if arrived == 1 else 'them'}"
    return f"{count} arrived and {kept}; {billed}."


def _lost(message: str) -> UpstreamError:
    return UpstreamError(code="connection", message=message)


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
