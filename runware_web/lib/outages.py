"""Whether one of the portal's own dependencies (Redis, as channel layer or cache) answers, as this
process last saw it.

Callers that survive a dependency going away (the runner's publish, the cache helpers, the socket
layer) note each failure and each success here. The log says so once when it goes and once when it
is back, not once per call: an outage of a few seconds would otherwise flood the log. The log names
the error's type only; its text may hold an internal address.
"""

from __future__ import annotations

import logging
import time

log = logging.getLogger(__name__)


class Outage:
    """One dependency: down since the first failure, up again at the next success."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.down_since: float | None = None

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def failed(self, exc: BaseException) -> None:
        if self.down_since is None:
            self.down_since = time.monotonic()
            log.warning("%s cannot be reached (%s); the portal goes on without it", self.name, type(exc).__name__)

    def succeeded(self) -> None:
        if self.down_since is not None:
            seconds, self.down_since = time.monotonic() - self.down_since, None
            log.warning("%s is back after %.1f s", self.name, seconds)


CHANNEL_LAYER = Outage("The channel layer")
CACHE = Outage("The cache")
