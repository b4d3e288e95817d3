"""The spend pages' chart tag; money and task kinds use the portal's builtin filters."""

from __future__ import annotations

from django import template

from runware_web.spend import charts

register = template.Library()


@register.inclusion_tag("spend/index.html#daily-chart")
def daily_chart(days: list, title: str, chart_id: str = "spend-chart") -> dict:
    return {"chart": charts.daily_bars(days), "title": title, "chart_id": chart_id}
