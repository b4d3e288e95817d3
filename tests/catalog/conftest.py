"""Fixtures of the catalog tests: a cache of their own, and a count of upstream model searches."""

from __future__ import annotations

import os
import uuid

import pytest


@pytest.fixture(autouse=True)
def _own_cache(settings):
    """Each test starts with an empty search cache (a fresh key prefix, on locmem or Redis alike)."""
    settings.CACHES = {"default": {**settings.CACHES["default"], "KEY_PREFIX": f"catalog-test-{uuid.uuid4().hex}"}}


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



@pytest.fixture(scope="module")
def browser(django_db_setup):
    """Chromium for this module only, so Playwright's event loop is gone before the next module.

    Playwright's sync API leaves its event loop marked as running in the main thread for as long as
    it is started: sync ORM calls then need DJANGO_ALLOW_ASYNC_UNSAFE, and pytest-asyncio tests
    cannot run at all. tests.browser's session-wide browser would break every async test after it.
    The test database is created first, outside that loop.
    """
    from playwright.sync_api import sync_playwright

    from tests.browser import CHROMIUM, CHROMIUM_ARGS

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # the test's own ORM calls, in Playwright's loop
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous
