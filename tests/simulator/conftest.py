"""Fixtures for the simulator's own tests: a fresh zero-latency Simulator per test (media models
instant too), on the test's event loop, and official runware-sdk clients pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from runware import Runware

from runware_web.simulator.server import Simulator

ClientFactory = Callable[..., Runware]


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    simulator = Simulator(latency=0.0, stream_chunk_delay=0.0, media_latency_scale=0.0)
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
async def connect(sim: Simulator) -> AsyncIterator[ClientFactory]:
    """`connect(transport="websocket", api_key="test-key", **config)`: a Runware client, closed later."""
    clients: list[Runware] = []

    def make(transport: str = "websocket", api_key: str = "test-key", **config: Any) -> Runware:
        config.setdefault("retry_delay", 50)  # reconnect quickly after simulated drops
        client = Runware(
            api_key=api_key, ws_base_url=sim.ws_url, http_base_url=sim.http_url, transport=transport, **config
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


@pytest.fixture
async def fetch() -> AsyncIterator[Callable[[str], Awaitable[bytes]]]:
    async with aiohttp.ClientSession() as session:

        async def get(url: str) -> bytes:
            async with session.get(url) as response:
                assert response.status == 200, url
                return await response.read()

        yield get
