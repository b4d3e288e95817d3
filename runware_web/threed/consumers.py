"""`/ws/3d/`: make 3D models, cancel them, and follow them; every tab of the member sees the same."""

from __future__ import annotations

from runware_web.live.media_tasks import MediaTaskConsumer
from runware_web.threed import fragments, services


class ThreeDConsumer(MediaTaskConsumer):
    features = (services.FEATURE,)
    services = services
    fragments = fragments
    noun = "3D model"
