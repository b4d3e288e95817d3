"""What a feature does with its tasks' outcomes: the `Handler` base class, and which one a task gets.

Each feature names its handler in one table, `settings.RUNWARE_WEB_TASK_HANDLERS` (feature → dotted
path of a Handler subclass), read on first use: a reader follows a task from its `feature` to the
class that saves its results. A feature missing from the table gets the base class, which saves
nothing (the runner still records every charge), with a warning in the log.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

from runware_web.upstream.errors import UpstreamError
from runware_web.upstream.models import Task

log = logging.getLogger(__name__)


class Handler:
    """What a feature does with its tasks' outcomes.

    Every method runs in the runner's event loop (use `database_sync_to_async` for the ORM) and
    returns HTML to push to the member's open tabs, or "" for nothing. A handler must not raise
    for ordinary outcomes; if it does, the runner logs it and tells the member.
    """

    def on_arrival(self, task: Task, item: dict[str, Any]) -> None:
        """An output just came from Runware (in the SDK's callback, before it is charged and before
        on_result stores it), for a feature that hands results on at once: the endpoint pushes the
        item to the script, naming the image as it will be stored.

        Not async: it runs before anything else of the task can (start background work for what
        must wait); it must not store anything, and what it raises is logged and ignored. Only a
        live call's outputs come here: those recovered after a drop or adopted from a dead worker
        go to on_result alone, which must then hand them on itself."""

    async def on_result(self, task: Task, item: dict[str, Any]) -> str:
        """One finished output (an image, a caption…). Its cost is already in the ledger."""
        return ""

    async def on_waiting(self, task: Task, item: dict[str, Any]) -> str:
        """An output on_result could not store because the disk where media go is full (it raised
        media.store.StorageFull). The runner keeps it and calls on_result again once there is room;
        the HTML tells the member it is waiting (features that count them use media.pending)."""
        return ""

    async def on_progress(self, task: Task, item: dict[str, Any]) -> str:
        return ""

    async def on_chunk(self, task: Task, text: str, reasoning: str) -> str:
        """A streamed reply grew; `text` and `reasoning` are everything received so far."""
        return ""

    async def on_stream_end(self, task: Task, result: Any) -> None:
        """A streamed reply ended (a runware TextStreamResult); save it before on_finished."""

    async def on_finished(self, task: Task) -> str:
        """All results arrived (or the task was cancelled and has now ended)."""
        return ""

    async def on_failed(self, task: Task, error: UpstreamError) -> str:
        return ""

    async def is_stored(self, task: Task, item: dict[str, Any]) -> bool:
        """Whether an output already charged (by a worker that died since) was saved too.

        Asked only for a task adopted from a dead worker; a feature that stores files says whether
        this output's file is there, so that a charged but unsaved output is saved now."""
        return True


def handler_for(feature: str) -> Handler:
    """The handler of a feature's tasks, made once from the settings' table."""
    path = settings.RUNWARE_WEB_TASK_HANDLERS.get(feature)
    return _fallback(feature) if path is None else _load(path)


@functools.cache
def _load(path: str) -> Handler:
    return import_string(path)()


@functools.cache
def _fallback(feature: str) -> Handler:
    log.warning("No handler for feature %r in RUNWARE_WEB_TASK_HANDLERS: its results are charged, not saved.",
                feature)
    return Handler()


def _table_changed(*, setting: str, **kwargs: Any) -> None:
    """Tests change the table (override_settings): the handlers made from the old one go."""
    if setting == "RUNWARE_WEB_TASK_HANDLERS":
        _load.cache_clear()
        _fallback.cache_clear()


setting_changed.connect(_table_changed)
