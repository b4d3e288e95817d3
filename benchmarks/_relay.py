"""upstream_relay.py's feature handler: HTML for each result, as a feature's would be, nothing saved.

Named in RUNWARE_WEB_TASK_HANDLERS by the benchmark (as "_relay.Relay": benchmarks/ is the script's
path), so it is imported once Django is set up.
"""

from __future__ import annotations

from typing import Any

from runware_web.runner import Handler
from runware_web.upstream.models import Task


class Relay(Handler):
    async def on_result(self, task: Task, item: dict[str, Any]) -> str:
        return f'<div id="slot-{item["imageUUID"]}"><img src="{item.get("imageURL", "")}"></div>'
