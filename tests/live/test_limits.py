"""The page and the server agree on the largest message, and Daphne's own limit is above it."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from daphne.server import Server
from django.conf import settings

from runware_web.live.consumers import MAX_FRAME_BYTES


def test_the_page_explains_a_dropped_socket_with_the_servers_limit():
    """portal.js calls a dropped socket "too large" after sending more than its MAX_FRAME_BYTES: the
    same number as the consumer's, or the page would blame the member for a network fault (or miss one)."""
    portal = (Path(settings.BASE_DIR) / "static" / "js" / "portal.js").read_text()
    match = re.search(r"var MAX_FRAME_BYTES = (\d+) \* 1024;", portal)
    assert match, "portal.js must state MAX_FRAME_BYTES"
    assert int(match.group(1)) * 1024 == MAX_FRAME_BYTES


def test_daphnes_own_limit_is_above_the_consumers():
    """Frames between the two limits are closed by the consumer with its code (4009); only larger ones
    are dropped by Daphne. Production runs Daphne with its default (README, docs/deployment.md)."""
    default = inspect.signature(Server).parameters["websocket_max_message_size"].default
    assert default > MAX_FRAME_BYTES
