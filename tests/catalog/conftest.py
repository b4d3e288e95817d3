"""Fixtures of the catalog tests: a cache of their own, and a count of upstream model searches."""

from __future__ import annotations

import uuid

import pytest


@pytest.fixture(autouse=True)
def _own_cache(settings):
    """Each test starts with an empty search cache (a fresh key prefix, on locmem or Redis alike)."""
    prefix = f"catalog-test-{uuid.uuid4().hex}"
    settings.CACHES = {"default": {**settings.CACHES["default"], "KEY_PREFIX": prefix}}


@pytest.fixture
def model_searches(monkeypatch):
    """Every `modelSearch` the portal sends upstream (the call still goes to the simulator)."""
    from runware import Runware

    calls: list[dict] = []
    original = Runware.model_search

    async def counted(self, params, options=None):
        calls.append(dict(params))
        return await original(self, params, options)

    monkeypatch.setattr(Runware, "model_search", counted)
    return calls


@pytest.fixture
async def alice(async_client, user):
    """alice's async client (async views run in the test's own event loop, like under Daphne)."""
    await async_client.aforce_login(user)
    return async_client


