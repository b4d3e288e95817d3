"""What happens to a 3D task's outcomes: each model stored (streamed), its card pushed live."""

from __future__ import annotations

from typing import Any

from runware_web.live.media_tasks import DownloadedResultHandler
from runware_web.threed import fragments, services


class ThreeDHandler(DownloadedResultHandler):
    """The runner's handler of "threed" tasks (named in settings.RUNWARE_WEB_TASK_HANDLERS)."""

    services = services
    fragments = fragments
    noun = "3D model"

    def output(self, item: dict[str, Any]) -> tuple[str, str]:
        file = services.output_file(item)
        return str(file.get("url") or ""), str(file.get("uuid") or "")
