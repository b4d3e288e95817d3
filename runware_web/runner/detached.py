"""Starting tasks from an async view, outside the request's thread-sensitive context."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable
from typing import TypeVar

from asgiref.sync import ThreadSensitiveContext

T = TypeVar("T")


async def detached(work: Awaitable[T]) -> T:
    """Run `work` (and any runner task it starts) outside the current request's context.

    An async view runs inside the request's thread-sensitive context, whose thread executor is
    shut down once the response is sent; a task started from it could not save its results
    afterwards. Views that start tasks call `await detached(...)`; work started
    here gets a context and a database thread of its own.
    """

    async def run() -> T:
        async with ThreadSensitiveContext():
            return await work

    return await asyncio.get_running_loop().create_task(run(), context=contextvars.Context())
