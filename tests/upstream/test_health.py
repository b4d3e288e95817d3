"""When Runware cannot be reached the portal still serves pages, says so, and recovers by itself."""

from __future__ import annotations

import asyncio
import socket

import pytest
from django.core.cache import cache
from django.db import OperationalError
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


async def test_health_reports_each_dependency_and_runware_is_not_needed(db):
    response = await AsyncClient().get("/healthz")
    body = response.json()
    assert set(body["checks"]) == {"database", "channel_layer", "cache", "runware", "media"}
    assert body["checks"]["media"]["needed"] is False  # reported; every worker writes to the same storage
    assert body["checks"]["database"] | {"needed": True, "ok": True} == body["checks"]["database"]
    assert body["checks"]["runware"]["needed"] is False  # reported; every worker shares it
    assert response.status_code == 200 and body["status"] == "ok" and body["down"] == []


async def test_health_answers_503_naming_the_database_when_it_does_not_answer(db, monkeypatch):
    from runware_web import views

    def broken() -> None:
        raise OperationalError("could not connect to server at 10.0.3.7:5432")

    monkeypatch.setattr(views, "_select_one", broken)
    response = await AsyncClient().get("/healthz")
    assert response.status_code == 503 and response.json()["down"] == ["database"]
    assert "10.0.3.7" not in response.content.decode()
