"""A daily bar chart as plain SVG geometry, computed here and drawn by a template (no library)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from runware_web.money.reports import Group

WIDTH = 760
HEIGHT = 240
LEFT = 64  # room for the axis labels
RIGHT = 8
TOP = 12
BOTTOM = 28
MAX_X_LABELS = 10


@dataclass
class Bar:
    day: date
    total: Decimal
    count: int
    x: float
    y: float
    width: float
    height: float
    label: str  # shown under the bar, or ""


@dataclass
class Tick:
    y: float
    value: Decimal


@dataclass
class Chart:
    bars: list[Bar]
    ticks: list[Tick]
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right_edge: int = WIDTH - RIGHT
    baseline: int = HEIGHT - BOTTOM

    @property
    def empty(self) -> bool:
        return not any(bar.total for bar in self.bars)


def nice_ceiling(value: Decimal) -> Decimal:
    """The smallest 1, 2 or 5 × 10ⁿ at or above a value, so the axis reads in round numbers."""
    if value <= 0:
        return Decimal("0.01")
    exponent = value.adjusted()
    for step in (1, 2, 5, 10):
        candidate = Decimal(step).scaleb(exponent)
        if candidate >= value:
            return candidate
    return Decimal(10).scaleb(exponent)


def daily_bars(days: list[Group]) -> Chart:
    top = nice_ceiling(max((day.total for day in days), default=Decimal(0)))
    plot_height = HEIGHT - TOP - BOTTOM
    plot_width = WIDTH - LEFT - RIGHT
    slot = plot_width / max(1, len(days))
    every = max(1, -(-len(days) // MAX_X_LABELS))
    bars = []
    for index, day in enumerate(days):
        height = float(day.total / top) * plot_height if top else 0.0
        if day.total and height < 1:
            height = 1.0  # a day with any spend stays visible
        bars.append(Bar(
            day=day.key,
            total=day.total,
            count=day.count,
            x=round(LEFT + index * slot + slot * 0.15, 2),
            y=round(TOP + plot_height - height, 2),
            width=round(max(1.0, slot * 0.7), 2),
            height=round(height, 2),
            label=f"{day.key:%d %b}" if index % every == 0 else "",
        ))
    ticks = [Tick(y=round(TOP + plot_height * (1 - fraction), 2), value=top * Decimal(str(fraction)))
             for fraction in (0, 0.5, 1)]
    return Chart(bars=bars, ticks=ticks)
