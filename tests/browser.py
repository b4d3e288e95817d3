"""Browser tests: Debian's Chromium driven by Playwright against a real Daphne server.

The server runs in a thread of the test process (so it shares the test database and the
simulator); tests that use it need committed data, hence `transactional_db`. Every page a test opens
is watched: a console error or an uncaught exception fails the test unless it declares it
(`browser_problems.expect(...)`, see BrowserProblems).
"""

from __future__ import annotations

import os
import re
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

    NAME = "daphne-live-server"

    def __init__(self) -> None:
        super().__init__(name=self.NAME, daemon=True)
        self.ready = threading.Event()
        self.port: int | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            from daphne.endpoints import build_endpoint_description_strings

            from runware_web.asgi import application
            from runware_web.live.server import PortalServer

            self.server = PortalServer(  # as production runs Daphne (1009 for a message too big)
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
    """The fault suite and the tests marked `sole_worker` run first, browser tests last (see `browser`).

    The live server is a portal worker in this process, for the rest of the session once started:
    its runner would store, adopt and charge the work of other workers (it shares the test
    database), in its own media root: the fault suite's, and that of a test whose own runner stores
    the results kept while the disk was full or adopts a dead worker's tasks. Those run before
    anything starts it (see `live_server_running`, which they check)."""
    items.sort(key=lambda item: (item.get_closest_marker("browser") is not None,
                                 "/tests/faults/" not in str(item.path) and not item.get_closest_marker("sole_worker")))


@pytest.fixture(autouse=True)
def _sole_worker(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("sole_worker") and live_server_running():
        pytest.fail("The test process serves the portal (the live server): its worker would take this test's "
                    "work. Run the test before the tests that start it.")


def live_server_running() -> bool:
    """Whether this process serves the portal (and so runs a worker of its own): see above."""
    return any(thread.name == DaphneThread.NAME and thread.is_alive() for thread in threading.enumerate())


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


# Makes a violation of the Content-Security-Policy a console error, so a blocked script or style fails
# the test that loads it (Chromium's own report of some violations is only a warning).
REPORT_POLICY_VIOLATIONS = (
    "document.addEventListener('securitypolicyviolation', event => console.error("
    "'CSP violation: ' + event.violatedDirective + ' ' + event.blockedURI));"
)


class BrowserProblems:
    """Console errors and uncaught exceptions of every page a test opens: a portal that works shows none.

    Every context made by `new_context` (so every `page` and `new_page`) is watched, and the test fails at
    teardown if anything was reported that the test did not declare with `expect()`. A declared problem
    that never happened fails the test too, so declarations cannot outlive the error they excuse.
    """

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.expected: list[re.Pattern[str]] = []
        self.raised: set[str] = set()

    def expect(self, pattern: str) -> None:
        """Declare a console error or page error this test causes on purpose (a regex searched in its text)."""
        self.expected.append(re.compile(pattern))

    def watch(self, context) -> None:
        context.on("console", lambda message: message.type == "error" and self.seen.append(
            f"console error on {message.page.url if message.page else '?'}: {message.text}"
            f" ({message.location.get('url', '')}:{message.location.get('lineNumber', '')})"))
        context.on("weberror", lambda error: self.seen.append(f"uncaught page error: {error.error}"))
        context.add_init_script(REPORT_POLICY_VIOLATIONS)

    def check(self, where: str = "") -> None:
        """Fail now if anything undeclared was reported so far (to name the page or step that caused it)."""
        unexpected = self.unexpected()
        self.raised.update(unexpected)  # failed here: not reported again at teardown
        assert unexpected == [], where

    def unexpected(self) -> list[str]:
        return [problem for problem in self.seen if not any(p.search(problem) for p in self.expected)]

    def declared_but_not_seen(self) -> list[str]:
        return [p.pattern for p in self.expected if not any(p.search(problem) for problem in self.seen)]


@pytest.fixture
def browser_problems() -> BrowserProblems:
    """What the test's pages reported (see BrowserProblems); `browser_problems.expect(...)` excuses one."""
    return BrowserProblems()


@pytest.fixture
def new_context(browser, live_server_url, browser_problems):
    """Make a fresh, watched browser context (a separate person) whose pages know the server's address.

    At teardown, any console error or uncaught exception of its pages that the test did not declare fails it.
    """
    contexts = []

    def make(base_url: str | None = live_server_url, **options):
        context = browser.new_context(base_url=base_url, **{"viewport": {"width": 1280, "height": 900}, **options})
        context.set_default_timeout(15_000)
        browser_problems.watch(context)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()  # lets the last console messages arrive before the check
    unexpected = [problem for problem in browser_problems.unexpected() if problem not in browser_problems.raised]
    missing = browser_problems.declared_but_not_seen()
    report = [f"The browser reported: {problem}" for problem in unexpected]
    report += [f"Declared but never reported by the browser: {pattern!r}" for pattern in missing]
    if report:
        pytest.fail("\n".join(report), pytrace=False)


@pytest.fixture
def new_page(new_context, live_server_url):
    """Make a page in a fresh, watched browser context (a separate person)."""

    def make(base_url: str = live_server_url, **options):
        return new_context(base_url, **options).new_page()

    return make


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
