"""When Runware cannot be reached the portal still serves pages, says so, and recovers by itself."""

from __future__ import annotations

import asyncio
import socket

import pytest
from django.core.cache import cache
from django.test import AsyncClient

from runware_web.simulator.server import run_in_thread
from runware_web.upstream.status import UPSTREAM_STATUS_KEY
from tests.conftest import acreate_user

pytestmark = pytest.mark.django_db(transaction=True)


async def upstream_status_becomes(expected: str, timeout: float = 20) -> None:
    async def poll() -> None:
        while await cache.aget(UPSTREAM_STATUS_KEY) != expected:
            await asyncio.sleep(0.05)

    await asyncio.wait_for(poll(), timeout)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_an_unreachable_upstream_is_shown_and_recovers(upstream, settings):
    port = free_port()
    settings.RUNWARE_WS_URL = f"ws://127.0.0.1:{port}/v1"  # nothing listens there yet
    settings.RUNWARE_HTTP_URL = f"http://127.0.0.1:{port}/v1"
    alice = await acreate_user("alice")
    client = AsyncClient()
    await client.aforce_login(alice)

    await upstream.ensure_started()
    await upstream_status_becomes("unreachable")
    page = (await client.get("/gallery/")).content.decode()
    assert "Runware cannot be reached right now" in page

    # Runware comes back on the same address: the portal notices by itself.
    revived = await asyncio.to_thread(run_in_thread, port=port, latency=0.0)
    try:
        await upstream_status_becomes("ok")
        page = (await client.get("/gallery/")).content.decode()
        assert "cannot be reached" not in page
    finally:
        await asyncio.to_thread(revived.stop)
