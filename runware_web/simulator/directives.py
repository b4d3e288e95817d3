"""Fault-injection directives embedded in prompts: `[sim:fail=CODE]`, `[sim:delay=S]`, `[sim:drop=N]`."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import SimError

_DIRECTIVE = re.compile(r"\[sim:(?P<name>[a-z]+)=(?P<value>[^\]]*)\]", re.IGNORECASE)
_MAX_DELAY_SECONDS = 600.0


@dataclass(frozen=True)
class Directives:
    fail: str | None = None
    delay: float | None = None
    drop: int | None = None


NONE = Directives()


def extract(text: str, parameter: str) -> tuple[str, Directives]:
    """Return the text without directives (whitespace tidied) and the directives it held.

    A malformed directive is a validation error on `parameter`, so typos do not pass silently.
    """
    found: dict[str, str] = {}
    for match in _DIRECTIVE.finditer(text):
        found[match.group("name").lower()] = match.group("value").strip()
    if not found:
        return text, NONE
    cleaned = re.sub(r"\s{2,}", " ", _DIRECTIVE.sub(" ", text)).strip()
    return cleaned, _parse(found, parameter)


def _parse(found: dict[str, str], parameter: str) -> Directives:
    unknown = set(found) - {"fail", "delay", "drop"}
    if unknown:
        raise SimError("invalidDirective", f"Unknown simulator directive(s): {sorted(unknown)}.", parameter)
    fail = found.get("fail")
    if fail is not None and not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", fail):
        raise SimError("invalidDirective", f"[sim:fail=...] needs an error code, got {fail!r}.", parameter)
    delay = _number(found.get("delay"), parameter, "delay")
    if delay is not None and not 0 <= delay <= _MAX_DELAY_SECONDS:
        raise SimError("invalidDirective", f"[sim:delay=...] must be 0–{_MAX_DELAY_SECONDS:g} s.", parameter)
    drop_raw = found.get("drop")
    if drop_raw is not None and not drop_raw.isdigit():
        raise SimError(
            "invalidDirective", f"[sim:drop=...] needs a whole number, got {drop_raw!r}.", parameter
        )
    return Directives(fail=fail, delay=delay, drop=int(drop_raw) if drop_raw is not None else None)


def _number(raw: str | None, parameter: str, name: str) -> float | None:
    if raw is None:
        return None
    try:
        return float(raw)
    except ValueError:
        raise SimError(
            "invalidDirective", f"[sim:{name}=...] needs a number, got {raw!r}.", parameter
        ) from None
