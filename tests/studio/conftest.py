from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _a_channel_layer_per_test():
    """channels_redis keeps its receive lock per layer instance, not per event loop, and every async
    test runs in a loop of its own: give each test a layer of its own (no-op for the in-memory one)."""
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()
