"""`/ws/audio/`: make audio clips, cancel them, and follow them; every tab of the member sees the same."""

from __future__ import annotations

from runware_web.audio import fragments, services
from runware_web.live.media_tasks import MediaTaskConsumer


class AudioConsumer(MediaTaskConsumer):
    features = (services.FEATURE,)
    services = services
    fragments = fragments
    noun = "audio clip"
