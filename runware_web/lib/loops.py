"""Which event loop a worker thread is working for, while it works for one.

A runner hands its database trips to threads of its own (runner.batching). What such a trip sets
off once it commits (the budget alerts' check, money.alerts) belongs to that runner's event loop:
in a process with several loops (the tests, where a live server runs beside each test's own), it
must not go to another loop's thread, which would go on writing after that runner has stopped.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_serving = threading.local()


@contextmanager
def working_for(loop: asyncio.AbstractEventLoop) -> Iterator[None]:
    """Mark this thread as working for `loop` until the block ends."""
    previous = getattr(_serving, "loop", None)
    _serving.loop = loop
    try:
        yield
    finally:
        _serving.loop = previous


def served() -> asyncio.AbstractEventLoop | None:
    """The loop this thread works for now; None outside `working_for`."""
    return getattr(_serving, "loop", None)
