"""Fixtures of the fault suite: the production layout with processes of each test's own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.browser import live_server_running
from tests.faults.processes import LEASE_SECONDS, Layout, PrivateRedis, UpstreamProcess


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/tests/faults/" in str(item.path):
            item.add_marker(pytest.mark.faults)


@pytest.fixture
def upstream_process() -> Iterator[UpstreamProcess]:
    """The Runware simulator in a process of this test's own."""
    upstream = UpstreamProcess()
    upstream.start()
    yield upstream
    upstream.stop()


@pytest.fixture
def redis_process() -> Iterator[PrivateRedis]:
    server = PrivateRedis()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def layout(redis_process, upstream_process, transactional_db) -> Iterator[Layout]:
    """PostgreSQL (this run's test database), the test's own Redis and upstream, and Daphne workers
    started with `layout.start_worker()`; every worker still running is stopped at the end."""
    if live_server_running():
        pytest.fail("The test process serves the portal (tests.browser's live server): its worker would take "
                    "this layout's work. Run the fault suite before the tests that start it.")
    production = Layout(redis_server=redis_process, upstream=upstream_process,
                        RUNWARE_LEASE_SECONDS=str(LEASE_SECONDS))
    yield production
    if hung := production.stop():
        pytest.fail("A worker did not stop within 20 s of SIGTERM:\n" + "\n".join(hung))
