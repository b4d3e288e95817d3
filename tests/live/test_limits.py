"""A socket message over the portal's limit is closed with 1009 ("Message Too Big") by the worker as
production starts it (`python -m runware_web.live.server`), before any consumer reads it; the page
and the server agree on the limit.

The worker is a real Daphne process with a database of its own (SQLite), talking to the session's
simulator: the limit is the server's, so in-process sockets (WebsocketCommunicator) never meet it.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

import pytest
from django.conf import settings
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from runware_web.live.server import CLOSE_TOO_BIG, MAX_FRAME_BYTES, PortalServer
from tests.workers import Member, free_port, manage, start_worker, stuck, wait_for_port, worker_env

GENERATE = {"action": "generate", "positivePrompt": "a lighthouse at dusk", "model": "runware:101@1",
            "width": "256", "height": "256", "numberResults": "1", "steps": "4", "outputFormat": "PNG"}


class Worker(NamedTuple):
    base: str
    cookie: str
    database: Path

    def tasks(self) -> int:
        with sqlite3.connect(self.database) as db:
            return db.execute("SELECT count(*) FROM upstream_task").fetchone()[0]

    def socket(self, path: str) -> ClientConnection:
        """A logged-in member's socket, as the page opens it."""
        return connect(self.base.replace("http", "ws", 1) + path, open_timeout=30, max_size=None,
                       additional_headers={"Cookie": self.cookie, "Origin": self.base})


@pytest.fixture(scope="module")
def worker(simulator, tmp_path_factory):
    data = tmp_path_factory.mktemp("frame-limit-worker")
    env = worker_env(simulator, drop=("DATABASE_URL", "REDIS_URL"), RUNWARE_WEB_DATA_DIR=str(data))
    manage(env, "migrate", "-v0")
    manage(env, "shell", "-c", "from runware_web.accounts.models import User; "
                               "User.objects.create_user('alice', password='correct horse battery')")
    port = free_port()
    process = start_worker(env, port)
    try:
        wait_for_port(port, process)
        alice = Member(f"http://127.0.0.1:{port}")
        alice.log_in("alice", "correct horse battery")
        cookie = "; ".join(f"{c.name}={c.value}" for c in alice.cookies)
        yield Worker(alice.base, cookie, data / "db.sqlite3")
    finally:
        process.terminate()
        hung = stuck(process)
    assert not hung, f"the worker did not stop within 20 s of SIGTERM:\n{hung}"


def padded(frame: dict[str, str], size: int) -> str:
    """`frame` as JSON of exactly `size` bytes, with a field no form reads (so it changes nothing)."""
    empty = json.dumps({**frame, "pasted": ""})
    return json.dumps({**frame, "pasted": "x" * (size - len(empty.encode()))})


def close_code(ws: ClientConnection, message: str | bytes | Iterable[str]) -> int | None:
    """How the server ended the socket sent `message`: its close code (None: the connection was
    dropped without one). The close may come while the message is still being sent."""
    with pytest.raises(ConnectionClosed) as closed:
        ws.send(message)
        while True:
            ws.recv(timeout=30)  # answers sent before the close are skipped
    return closed.value.rcvd.code if closed.value.rcvd else None


def test_the_page_says_the_servers_limit():
    """portal.js names the limit in its message ("over 256 KB"): the same number as the server's."""
    portal = (Path(settings.BASE_DIR) / "static" / "js" / "portal.js").read_text()
    match = re.search(r"var MAX_FRAME_BYTES = (\d+) \* 1024;", portal)
    assert match, "portal.js must state MAX_FRAME_BYTES"
    assert int(match.group(1)) * 1024 == MAX_FRAME_BYTES
    assert re.search(rf"var TOO_BIG = {CLOSE_TOO_BIG};", portal), "portal.js must explain the server's close code"


def test_the_limit_holds_whatever_daphnes_command_line_says():
    server = PortalServer(application=None, endpoints=["tcp:0"], websocket_max_message_size=4 * 1024 * 1024,
                          websocket_max_frame_size=4 * 1024 * 1024)
    assert server.websocket_max_message_size == server.websocket_max_frame_size == MAX_FRAME_BYTES


@pytest.mark.parametrize("path", ["/ws/studio/", "/ws/chat/", "/ws/tools/"])
@pytest.mark.parametrize("size", [MAX_FRAME_BYTES + 1, 2 * 1024 * 1024])
def test_a_message_over_the_limit_closes_the_socket_with_1009(worker, path, size):
    with worker.socket(path) as ws:
        assert close_code(ws, padded({"action": "nothing"}, size)) == CLOSE_TOO_BIG == 1009


def test_a_generation_over_the_limit_is_never_read_and_one_at_the_limit_is(worker, simulator):
    before = worker.tasks(), simulator.total_charged()
    with worker.socket("/ws/studio/") as ws:
        assert close_code(ws, padded(GENERATE, MAX_FRAME_BYTES + 1)) == CLOSE_TOO_BIG
    assert (worker.tasks(), simulator.total_charged()) == before  # closed before the consumer saw it

    with worker.socket("/ws/studio/") as ws:
        ws.send(padded(GENERATE, MAX_FRAME_BYTES))
        while 'id="gen-' not in str(ws.recv(timeout=30)):  # the card of the generation it started
            pass
    assert worker.tasks() == before[0] + 1


def test_a_binary_message_over_the_limit_closes_the_socket_with_1009(worker):
    with worker.socket("/ws/studio/") as ws:
        assert close_code(ws, b"\x00" * (MAX_FRAME_BYTES + 1)) == CLOSE_TOO_BIG


def test_a_message_sent_in_fragments_counts_whole(worker):
    """Each fragment under the limit, together over it: the message is what is limited."""
    with worker.socket("/ws/studio/") as ws:
        assert close_code(ws, iter(["x" * (MAX_FRAME_BYTES // 2)] * 3)) == CLOSE_TOO_BIG
