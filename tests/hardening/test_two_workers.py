"""Two Daphne workers sharing PostgreSQL and the Redis channel layer: one member, one tab on each
worker, a generation started in either tab progresses in both.

Runs when the suite runs against PostgreSQL + Redis (CI's second pass); the embedded set-up has
one process by design.
"""

from __future__ import annotations

import pytest
from django.test import Client
from playwright.sync_api import expect

from tests.conftest import make_user
from tests.workers import PRODUCTION_LAYOUT, free_port, production_env, start_worker, stuck, wait_for_port

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

@pytest.fixture
def two_workers(simulator):
    env = production_env(simulator)
    ports = [free_port(), free_port()]
    workers = [start_worker(env, port) for port in ports]
    try:
        for port, worker in zip(ports, workers, strict=True):
            wait_for_port(port, worker)
        yield [f"http://127.0.0.1:{port}" for port in ports]
    finally:
        for worker in workers:
            worker.terminate()
        hung = [stuck(worker) for worker in workers]
        if any(hung):
            pytest.fail("A worker did not stop within 20 s of SIGTERM. Where its threads were:\n"
                        + "\n".join(filter(None, hung)))


@pytest.mark.skipif(not PRODUCTION_LAYOUT, reason="needs PostgreSQL and the Redis channel layer (CI's second pass)")
def test_a_generation_started_on_one_worker_shows_on_the_other(two_workers, new_context, simulator):
    simulator.set_latency(0.3)
    client = Client()
    client.force_login(make_user("alice"))  # Client.login passes no request, which django-axes refuses
    context = new_context(base_url=None)  # watched for console errors, closed by the fixture (tests/browser.py)
    context.set_default_timeout(20_000)
    # Cookies belong to the host, not the port: one session serves both workers.
    context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value,
                          "domain": "127.0.0.1", "path": "/"}])
    first, second = context.new_page(), context.new_page()
    first.goto(f"{two_workers[0]}/studio/")
    second.goto(f"{two_workers[1]}/studio/")
    for page, prompt in [(first, "a red fox in the snow"), (second, "a blue whale at night")]:
        page.get_by_label("Prompt", exact=True).fill(prompt)
        page.get_by_label("Number of images").fill("2")
        page.get_by_role("button", name="Generate").click()
        for watcher in (first, second):
            results = watcher.get_by_role("region", name="Results")
            # The context's 20 s does not reach expect(), whose own default is 5 s: too short for a
            # worker's first generation while CI's other pass shares the machine (it timed out once).
            expect(results.get_by_role("img", name=prompt)).to_have_count(2, timeout=20_000)
