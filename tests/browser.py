"""Browser tests: Debian's Chromium driven by Playwright against a real Daphne server.

The server runs in a thread of the test process (so it shares the test database and the
simulator); tests that use it need committed data, hence `transactional_db`.
"""

from __future__ import annotations

import os
import shutil
import threading

import pytest
from django.conf import settings

CHROMIUM = os.environ.get("RUNWARE_WEB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


class DaphneThread(threading.Thread):
    """Daphne serving the portal's ASGI application on a free port of 127.0.0.1."""

    def __init__(self) -> None:
        super().__init__(name="daphne-live-server", daemon=True)
        self.ready = threading.Event()
        self.port: int | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            from daphne.endpoints import build_endpoint_description_strings
            from daphne.server import Server

            from runware_web.asgi import application

            self.server = Server(
                application=application,
                endpoints=build_endpoint_description_strings(host="127.0.0.1", port=0),
                signal_handlers=False,
                server_name="",  # as `manage.py up` and production (`--no-server-name`): no Server header
                ready_callable=self._on_ready,
                verbosity=0,
            )
            self.server.run()
        except BaseException as exc:  # surfaced to the fixture that waits for readiness
            self.error = exc
            self.ready.set()

    def _on_ready(self) -> None:
        self.port = self.server.listening_addresses[0][1]
        self.ready.set()

    def stop(self) -> None:
        from twisted.internet import reactor

        reactor.callFromThread(reactor.stop)
        # The runner's shutdown waits RUNWARE_SHUTDOWN_GRACE for running tasks, then closes its
        # Runware client: wait for all of it, or the client is left open when the session ends.
        self.join(timeout=settings.RUNWARE_SHUTDOWN_GRACE + 20)


@pytest.fixture(scope="session")
def live_server_url(django_db_setup, django_db_blocker):
    thread = DaphneThread()
    with django_db_blocker.unblock():
        thread.start()
        thread.ready.wait(timeout=30)
    if thread.error is not None or thread.port is None:
        raise RuntimeError(f"Daphne did not start: {thread.error!r}")
    django_db_blocker.unblock()  # the server thread uses the database for the whole session
    yield f"http://127.0.0.1:{thread.port}"
    thread.stop()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests run last (see `browser`)."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


@pytest.fixture(scope="session")
def browser(live_server_url):
    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        pytest.fail(f"Chromium is not installed at {CHROMIUM}; run the README's test command, which installs it.")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop marked running in this thread, which makes
    # Django refuse database calls from the test body. Browser tests run last (the hook above),
    # so relaxing the check from here on hides nothing in the consumer and view tests.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser, live_server_url):
    """Make a fresh browser context (a separate person) whose pages know the server's address."""
    contexts = []

    def make(base_url: str = live_server_url):
        context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 900})
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):
    return new_page()


def log_in(page, username: str, password: str = "correct horse battery") -> None:
    """Log in through the real login page."""
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)
