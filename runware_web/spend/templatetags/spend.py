from __future__ import annotations

from decimal import Decimal

from django import template

from runware_web.money import reports
from runware_web.spend import charts

register = template.Library()


@register.filter
def usd(amount: Decimal | None) -> str:
    """$0.00412345, $12.50: every digit Runware reported, at least cents; "—" for nothing."""
    if amount is None:
        return "—"
    text = reports.plain_amount(amount)
    return f"−${text[1:]}" if text.startswith("-") else f"${text}"


@register.filter
def kind(task_type: str) -> str:
    return reports.kind_label(task_type)


@register.inclusion_tag("spend/_chart.html")
def daily_chart(days: list, title: str, chart_id: str = "spend-chart") -> dict:
    return {"chart": charts.daily_bars(days), "title": title, "chart_id": chart_id}
