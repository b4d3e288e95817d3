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


@pytest.fixture
def media_latency(simulator):
    """3D models take a fraction of their nominal latency (Hunyuan3D Rapid: 8 s → 1.6 s, long
    enough for the runner's first getResponse poll to see it still processing); restored after."""
    before = simulator.simulator.media_latency_scale
    simulator.set_media_latency_scale(0.2)
    yield
    simulator.set_media_latency_scale(before)
