"""Showing the Runware parameters an image was made with, readably and without megabytes of base64."""

from __future__ import annotations

import json
from typing import Any

from django.template.defaultfilters import filesizeformat

# Shown elsewhere on the image page, or added by the runner for every task.
_HIDDEN = {"taskType", "taskUUID", "includeCost", "deliveryMethod"}
_LONG = 300


def _shorten(value: Any) -> Any:
    if isinstance(value, str):
        if value.startswith("data:"):
            media_type = value[5:].split(";", 1)[0] or "data"
            return f"[{media_type}, {filesizeformat(len(value) * 3 // 4)}]"
        if len(value) > _LONG:
            return f"{value[:_LONG]}… ({len(value)} characters)"
        return value
    if isinstance(value, list):
        return [_shorten(item) for item in value]
    if isinstance(value, dict):
        return {key: _shorten(item) for key, item in value.items()}
    return value


def parameter_rows(params: dict[str, Any] | None) -> list[tuple[str, str]]:
    """(name, value) pairs in the order they were sent; nested values as compact JSON."""
    rows = []
    for name, value in (params or {}).items():
        if name in _HIDDEN:
            continue
        value = _shorten(value)
        if isinstance(value, (dict, list)):
            text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
        elif isinstance(value, bool):
            text = "true" if value else "false"
        else:
            text = str(value)
        rows.append((name, text))
    return rows
