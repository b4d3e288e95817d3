"""`python3 manage.py up` as a person runs it: help at once, a busy port said in one line, and a
portal served with debug off (the portal's own error pages) on plain HTTP, its secret key kept."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import expect

from runware_web.bootstrap import SECRET_KEY_FILE
from tests.browser import log_in
from tests.workers import free_port, wait_for_port

ROOT = settings.BASE_DIR
# manage.run: the command line after the virtualenv is in place (the test run's own).
RUN = "import sys, manage; manage.run(['manage.py', *sys.argv[1:]])"


def clean_env(data_dir: Path, **values: str) -> dict[str, str]:
    """This machine's environment without the portal's settings: `up` as on a fresh checkout."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("DJANGO_", "RUNWARE", "DATABASE_", "REDIS_", "WHITENOISE_", "PYTEST"))}
    return {**env, "RUNWARE_WEB_DATA_DIR": str(data_dir), **values}


def manage(env: dict[str, str], *args: str, **options) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", RUN, *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120, **options)


def start_up(env: dict[str, str], port: int, simulator_port: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", RUN, "up", "--port", str(port),
                             "--simulator-port", str(simulator_port)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def stop(process: subprocess.Popen) -> str:
    """Ctrl-C, as a person stops it; what it printed."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
    try:
        output, _ = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    return output


# --------------------------------------------------------------------------------- help, ports


def test_help_comes_at_once_without_creating_or_installing_anything(tmp_path):
    python = shutil.which("python3", path="/usr/bin:/bin") or sys.executable
    venv = tmp_path / "venv"
    result = subprocess.run([python, "manage.py", "up", "--help"], cwd=ROOT, capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin", "RUNWARE_WEB_VENV": str(venv)}, timeout=30)

    assert result.returncode == 0, result.stderr
    for option in ["--host", "--port", "--simulator-port", "--debug", "--behind-tls"]:
        assert option in result.stdout
    assert not venv.exists()  # no virtualenv made, nothing installed
    assert "installing" not in result.stdout + result.stderr


@pytest.mark.parametrize("busy", ["--port", "--simulator-port"])
def test_a_busy_port_is_reported_in_one_line_with_the_option_that_changes_it(tmp_path, busy):
    ports = {"--port": free_port(), "--simulator-port": free_port()}
    with socket.socket() as holder:  # what a first `up` would hold
        holder.bind(("127.0.0.1", ports[busy]))
        holder.listen()
        result = manage(clean_env(tmp_path), "up", *[str(part) for item in ports.items() for part in item])

    assert result.returncode != 0
    logged = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")  # log lines of apps starting, not the answer
    said = [line for line in result.stderr.strip().splitlines() if not logged.match(line)]
    assert len(said) == 1 and "Traceback" not in result.stderr, result.stderr
    assert f"port {ports[busy]} is already in use" in said[0]
    assert f"choose another port with {busy} {ports[busy] + 1}" in said[0]


# ------------------------------------------------------------------------ served with debug off


@pytest.fixture
def up_server(tmp_path):
    """`manage.py up` on free ports with a fresh data directory, and a member to log in as."""
    ports = free_port(), free_port()
    env = clean_env(tmp_path)
    process = start_up(env, *ports)
    try:
        wait_for_port(ports[0], process, timeout=90)
        made = manage({**env, "DJANGO_SECRET_KEY_FILE": str(tmp_path / SECRET_KEY_FILE)}, "shell", "-c",
                      "from runware_web.accounts.models import User; "
                      "User.objects.create_user('alice', password='correct horse battery')")
        assert made.returncode == 0, made.stderr
        yield {"url": f"http://127.0.0.1:{ports[0]}", "process": process, "env": env, "ports": ports,
               "data_dir": tmp_path}
    finally:
        stop(process)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_up_shows_members_the_portals_own_404_and_keeps_them_logged_in_across_a_restart(
    up_server, new_page, browser_problems
):
    browser_problems.expect(r"status of 404 \(Not Found\)")  # Chromium logs the 404s this test opens
    page = new_page(up_server["url"])
    log_in(page, "alice")  # over plain HTTP: no redirect to HTTPS
    assert not page.url.startswith("https:")
    assert all(not cookie["secure"] for cookie in page.context.cookies())

    for url in ["/spend/", "/no-such-page/"]:  # a staff page, and none at all
        response = page.goto(url)
        assert response.status == 404 and "strict-transport-security" not in response.headers
        expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
        expect(page.get_by_role("navigation", name="Main")).to_be_visible()  # in the portal's frame
        expect(page.get_by_role("link", name="Go to the studio")).to_be_visible()
        body = page.content()
        assert "URLconf" not in body and "urlpatterns" not in body and "DEBUG" not in body

    key = (up_server["data_dir"] / SECRET_KEY_FILE).read_text()
    assert len(key.strip()) >= 50
    stop(up_server["process"])
    up_server["process"] = restarted = start_up(up_server["env"], *up_server["ports"])
    try:
        wait_for_port(up_server["ports"][0], restarted, timeout=90)
        page.goto("/account/usage/")  # a page without a socket: the server stops under it below
        expect(page).to_have_url(re.compile(r"/account/usage/$"))  # the session outlived the restart: same key
        assert (up_server["data_dir"] / SECRET_KEY_FILE).read_text() == key
    finally:
        stop(restarted)
