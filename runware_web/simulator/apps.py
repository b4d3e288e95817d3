from __future__ import annotations

from django.apps import AppConfig


class SimulatorConfig(AppConfig):
    """The local Runware stand-in; it only contributes the `runware_simulator` command."""

    name = "runware_web.simulator"
    verbose_name = "Runware simulator"
