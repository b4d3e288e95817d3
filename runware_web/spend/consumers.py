from __future__ import annotations

from runware_web.upstream.consumers import PortalConsumer


class SpendConsumer(PortalConsumer):
    features = ("spend",)
