"""How long something took, for a person: 3.2 s, 1 min 05 s, 2 h 03 min."""

from __future__ import annotations

from datetime import timedelta

NOTHING = "—"


def duration(value: timedelta | float | int | None) -> str:
    """A duration (a timedelta, or seconds) as 3.2 s, 1 min 05 s or 2 h 03 min; "—" for nothing."""
    if value is None:
        return NOTHING
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if seconds < 60:
        return f"{max(seconds, 0):.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
