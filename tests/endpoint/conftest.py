"""The endpoint's tests mix sockets through the live server with WebsocketCommunicator ones: each
test gets a channel layer of its own (channels_redis locks receive per layer instance).

A script gets each image as it arrives, before the portal has charged, stored and ended its task:
a test that ends at once would leave the live server writing while the database is emptied for
the next test (PostgreSQL's TRUNCATE then deadlocks with those writes' row locks). So after each
test through the live server, its tasks are let end first (for a while at most: a test may leave
one running on purpose)."""

from __future__ import annotations

import time

import pytest

from tests.studio.conftest import _a_channel_layer_per_test  # noqa: F401 - an autouse fixture

SETTLE_SECONDS = 10.0


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_teardown(item, nextitem):
    if "live_server_url" in getattr(item, "fixturenames", ()):
        _let_tasks_end()
    yield


def _let_tasks_end() -> None:
    from django.db import close_old_connections

    from runware_web.upstream.models import Task

    deadline = time.monotonic() + SETTLE_SECONDS
    try:
        while Task.objects.filter(finished_at__isnull=True).exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    except Exception:  # no database for this test, or it is gone: nothing to wait for
        close_old_connections()
