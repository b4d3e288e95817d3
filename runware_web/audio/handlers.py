"""What happens to an audio task's outcomes: each clip stored (streamed), its card pushed live."""

from __future__ import annotations

from typing import Any

from runware_web.audio import fragments, services
from runware_web.live.media_tasks import DownloadedResultHandler


class AudioHandler(DownloadedResultHandler):
    """The runner's handler of "audio" tasks (named in settings.RUNWARE_WEB_TASK_HANDLERS)."""

    services = services
    fragments = fragments
    noun = "audio clip"

    def output(self, item: dict[str, Any]) -> tuple[str, str]:
        return str(item.get("audioURL") or ""), str(item.get("audioUUID") or "")
