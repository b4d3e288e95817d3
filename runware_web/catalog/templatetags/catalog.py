"""Template helpers of the model picker: names of models without asking Runware."""

from __future__ import annotations

from typing import Any

from django import template

from runware_web.catalog.search import CatalogModel, known_model
from runware_web.lib.air import is_air

register = template.Library()


@register.simple_tag
def picker_choice(value: Any) -> CatalogModel | str:
    """What a picker value is, from memory only (a template must not wait for Runware):
    a model, "" (nothing), "text" (not an AIR) or "lookup" (an AIR whose name is not known yet)."""
    text = str(value or "").strip()
    if not text:
        return ""
    if not is_air(text):
        return "text"
    return known_model(text) or "lookup"
