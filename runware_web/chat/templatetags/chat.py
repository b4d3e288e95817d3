from __future__ import annotations

from decimal import Decimal

from django import template
from django.utils.safestring import SafeString

from runware_web.chat.markdown import render_markdown
from runware_web.chat.text_models import label

register = template.Library()


@register.filter
def markdown(text: str) -> SafeString:
    """A model's text as sanitised HTML (see chat/markdown.py)."""
    return render_markdown(text)


@register.filter
def model_label(air: str) -> str:
    return label(air)


@register.filter
def usd(amount: Decimal | None) -> str:
    """Exactly the digits Runware reported, as dollars: 0.0000235000 → $0.0000235."""
    if amount is None:
        return ""
    text = format(amount.normalize(), "f")
    if "." not in text:
        text += ".00"
    elif len(text.split(".")[1]) < 2:
        text += "0"
    return f"${text}"


@register.filter
def seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.1f} s"
