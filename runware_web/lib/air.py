"""AIR model identifiers (`source:id@version`, e.g. runware:101@1): the only model names Runware takes."""

from __future__ import annotations

import re

PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.-]*:[A-Za-z0-9_.-]+@[A-Za-z0-9_.-]+"
AIR = re.compile(PATTERN)
EXAMPLE = "runware:101@1"


def is_air(value: object) -> bool:
    return isinstance(value, str) and AIR.fullmatch(value) is not None
