"""The endpoint's tests mix sockets through the live server with WebsocketCommunicator ones: each
test gets a channel layer of its own (channels_redis locks receive per layer instance)."""

from __future__ import annotations

from tests.studio.conftest import _a_channel_layer_per_test  # noqa: F401 - an autouse fixture
