"""In Chromium, against a real Daphne worker process that is killed and started again while a page is
open: the studio, chat and tools pages say the connection is lost and being retried, refuse to send
meanwhile (nothing is queued for later), and show the state of things once the server is back.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone
from playwright.sync_api import Locator, Page, expect

from runware_web.chat.models import Conversation, Message
from runware_web.tools.models import TextResult, ToolRun
from runware_web.upstream.models import Task
from runware_web.upstream.models import Worker as WorkerRow
from tests.browser import log_in
from tests.conftest import make_user
from tests.tools.conftest import make_image
from tests.workers import free_port, start_worker, stuck, wait_for_port, worker_env

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LOST = "Connection to the portal lost — reconnecting… Nothing can be sent until it is back."
REFUSED = (
    "Not sent: the connection to the portal is lost. The page is reconnecting; send again once it is back."
)

# Counts the page's socket openings, so a test can wait for the first one and for the reconnection.
COUNT_OPENS = (
    'document.addEventListener("htmx:wsOpen", () => { window.socketOpens = (window.socketOpens || 0) + 1; });'
)


class Worker:
    """A Daphne worker process on this test run's database, killed (kill -9) and started again on its port."""

    def __init__(self, simulator) -> None:
        database = settings.DATABASES["default"]
        if database["ENGINE"] == "django.db.backends.sqlite3":
            url = f"sqlite:///{database['NAME']}"
        else:
            url = f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}"
        self.env = worker_env(simulator, DATABASE_URL=url, RUNWARE_WEB_MEDIA_ROOT=str(settings.MEDIA_ROOT))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = start_worker(self.env, self.port)
        wait_for_port(self.port, self.process)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        self.process = None

    def stop(self) -> str:
        if self.process is None:
            return ""
        self.process.terminate()
        return stuck(self.process)


@pytest.fixture
def worker(simulator) -> Iterator[Worker]:
    worker = Worker(simulator)
    worker.start()
    yield worker
    assert not worker.stop(), "the worker did not stop"


@dataclass
class Scene:
    """One page: where it is, how a member sends from it, and what changes while the server is away."""

    path: Callable[[object], str]
    button: Callable[[Page], Locator]
    send: Callable[[Page], None]
    change_while_away: Callable[[object], None]
    shown_after: str


def studio_button(page: Page) -> Locator:
    return page.get_by_role("button", name="Generate", exact=True)


def studio_send(page: Page) -> None:
    page.get_by_label("Prompt", exact=True).fill("a kite over the sea")
    studio_button(page).press("Enter")  # by keyboard: it is marked unavailable


def studio_change(setup) -> None:
    """A generation the page showed running ended while the page was away."""
    Task.objects.filter(pk=setup["task"].pk).update(
        status=Task.Status.FAILED,
        error_message="Runware gave up on this one.",
        finished_at=timezone.now(),
        worker="elsewhere",
    )


def chat_button(page: Page) -> Locator:
    return page.get_by_role("button", name="Send", exact=True)


def chat_send(page: Page) -> None:
    page.get_by_label("Message", exact=True).fill("Are you there?")
    chat_button(page).press("Enter")


def chat_change(setup) -> None:
    Message.objects.create(
        conversation=setup["conversation"],
        role=Message.Role.ASSISTANT,
        content="Written while you were away.",
    )


def tools_button(page: Page) -> Locator:
    return page.locator("#tool-form-caption").get_by_role("button", name="Caption")


def tools_send(page: Page) -> None:
    tools_button(page).press("Enter")


def tools_change(setup) -> None:
    task = Task.objects.create(
        user=setup["user"],
        feature="tools",
        task_type="caption",
        status=Task.Status.DONE,
        worker="elsewhere",
        finished_at=timezone.now(),
    )
    ToolRun.objects.create(task=task, user=setup["user"], tool=ToolRun.Tool.CAPTION, source=setup["image"])
    TextResult.objects.create(
        task=task, user=setup["user"], source=setup["image"], text="A caption made meanwhile."
    )


SCENES = {
    "studio": Scene(
        lambda setup: "/studio/", studio_button, studio_send, studio_change, "Runware gave up on this one."
    ),
    "chat": Scene(
        lambda setup: f"/chat/{setup['conversation'].pk}/",
        chat_button,
        chat_send,
        chat_change,
        "Written while you were away.",
    ),
    "tools": Scene(
        lambda setup: f"/tools/?image={setup['image'].pk}",
        tools_button,
        tools_send,
        tools_change,
        "A caption made meanwhile.",
    ),
}


def set_up(name: str) -> dict:
    alice = make_user("alice")
    setup: dict = {"user": alice}
    if name == "studio":  # a generation running on another (live) worker, shown as a running card
        WorkerRow.objects.create(id="elsewhere", last_seen=timezone.now() + timezone.timedelta(days=1))
        setup["task"] = Task.objects.create(
            user=alice,
            feature="studio",
            task_type="imageInference",
            status=Task.Status.RUNNING,
            params={
                "positivePrompt": "a lighthouse at dusk",
                "width": 256,
                "height": 256,
                "numberResults": 1,
            },
            worker="elsewhere",
            started_at=timezone.now(),
        )
    elif name == "chat":
        setup["conversation"] = Conversation.objects.create(user=alice, title="Evening chat")
    else:
        setup["image"] = make_image(alice, prompt="a blue square on a white wall")
    return setup


@pytest.mark.timeout(240)  # a worker started twice, and a page reconnecting with back-off
@pytest.mark.parametrize("name", list(SCENES))
def test_a_page_says_the_connection_is_lost_refuses_to_send_and_catches_up_when_it_is_back(
    name, worker, new_page, browser_problems, tmp_path
):
    # Each failed reconnection attempt is a console error, Chromium's and htmx's (its wsError event, logged
    # as "[object Event]"): expected while the server is away.
    browser_problems.expect(r"WebSocket connection to .* failed")
    browser_problems.expect(r"\[object Event\]")
    scene = SCENES[name]
    setup = set_up(name)
    tasks_before = Task.objects.count()
    page = new_page(worker.url)
    page.context.add_init_script(COUNT_OPENS)
    log_in(page, "alice")
    page.goto(scene.path(setup))
    page.wait_for_function("() => window.socketOpens >= 1")
    status = page.locator("#connection-status")
    expect(status).to_have_role("status")
    expect(status).to_be_empty()

    expect(scene.button(page)).to_be_enabled()
    if name == "studio":
        expect(page.get_by_role("region", name="Results")).to_contain_text("Generating…")

    worker.kill()
    expect(status).to_have_text(LOST)
    expect(status).to_be_visible()
    shots = Path(os.environ.get("RUNWARE_WEB_SCREENSHOTS") or tmp_path)
    page.screenshot(path=str(shots / f"shell-offline-{name}.png"))
    # aria-disabled, not disabled: still focusable, and pressed it says why nothing is sent.
    expect(scene.button(page)).to_be_disabled()
    scene.send(page)
    expect(page.locator("#toasts [role=alert]")).to_have_text(REFUSED)
    scene.change_while_away(setup)

    worker.start()
    expect(status).to_be_empty(timeout=30_000)
    assert page.evaluate("window.socketOpens") >= 2
    expect(page.get_by_text(scene.shown_after)).to_be_visible()
    expect(scene.button(page)).to_be_enabled()
    # A request the page had in flight when the server was killed (the running tasks' poll, the studio's
    # estimate) fails, and htmx and Chromium log it: the kill's doing, and only if one was in flight.
    page.context.close()
    browser_problems.seen[:] = [
        problem
        for problem in browser_problems.seen
        if not re.search(
            r"htmx:(afterRequest|sendError), |Failed to load resource: net::ERR_CONNECTION_REFUSED", problem
        )
    ]
    # Nothing was queued while the server was away: no task was started by the refused send.
    assert Task.objects.filter(user=setup["user"]).count() == tasks_before + (1 if name == "tools" else 0)
