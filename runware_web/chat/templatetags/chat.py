"""Chat's own template filters (money and durations use the portal's builtin filters)."""

from __future__ import annotations

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
