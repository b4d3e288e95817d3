"""Upload memory: how much a Daphne worker's resident memory grows while it receives one upload.

For each upload size and endpoint, a fresh Daphne worker (started as production starts it) is
started on a fresh SQLite data dir, warmed up (login, one small accepted upload), its peak-RSS mark
reset (`/proc/<pid>/clear_refs`), then one multipart upload is streamed to it from this process
(never held in memory here). Printed: the HTTP status, the worker's peak RSS growth over its RSS
before the upload (VmHWM − VmRSS), and that growth as a multiple of the upload's size.

Uploads:
- 10 MB: a PNG of random pixels just under the limit (RUNWARE_WEB_UPLOAD_MAX_BYTES, 10 MiB):
  accepted, so it is decoded and re-encoded for real.
- 60 MB and 500 MB: a small PNG followed by zeros: over the limit, refused.

Endpoints: the studio's input-image upload (htmx) and the tools page's upload.

Usage (from the repository root):

    .venv/bin/python benchmarks/upload_memory.py
    .venv/bin/python benchmarks/upload_memory.py --checkout /tmp/u-before    # another checkout's code
    .venv/bin/python benchmarks/upload_memory.py --sizes 60 --chunked        # no Content-Length

A worker whose RSS passes --max-rss (GiB) is killed and its row says so, so that a version that
holds the body several times over cannot take the machine down.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import http.cookiejar
import io
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MB = 1_000_000
MIB = 1024 * 1024
CHUNK = MIB
WORKER = "from runware_web.live.server import main; main()"  # Daphne as production starts it
OLD_WORKER = "from daphne.cli import CommandLineInterface; CommandLineInterface.entrypoint()"  # before it
PASSWORD = "correct horse battery"
ENDPOINTS = {  # path, the form's other fields, the file's field, whether htmx sends it
    "studio upload": ("/studio/upload", {"target": "seedImage"}, "seedImage_file", True),
    "tools upload": ("/tools/upload/", {}, "image", False),
}


# ------------------------------------------------------------------------------------ the worker


def worker_env(data_dir: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if key not in {"DATABASE_URL", "REDIS_URL", "DJANGO_ALLOW_ASYNC_UNSAFE", "RUNWARE_API_KEY"}}
    env.update(DJANGO_SETTINGS_MODULE="tests.settings", RUNWARE_WEB_DATA_DIR=str(data_dir),
               RUNWARE_WEB_MEDIA_ROOT=str(data_dir / "media"), TMPDIR=str(data_dir),
               # Nothing here starts a task: an address where nothing listens is enough.
               RUNWARE_WS_URL="ws://127.0.0.1:9/v1", RUNWARE_HTTP_URL="http://127.0.0.1:9/v1")
    return env


def prepare(checkout: Path, env: dict[str, str]) -> None:
    def manage(*args: str) -> None:
        subprocess.run([sys.executable, "manage.py", *args], cwd=checkout, env=env, check=True, capture_output=True)

    manage("migrate", "-v0")
    manage("shell", "-c", "from runware_web.accounts.models import User; "
                          f"User.objects.create_user('alice', password='{PASSWORD}')")


def start(checkout: Path, env: dict[str, str]) -> tuple[subprocess.Popen, int]:
    with contextlib.closing(socket.socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-c", WORKER if (checkout / "runware_web" / "live" / "server.py").exists() else OLD_WORKER,
         "-b", "127.0.0.1", "-p", str(port), "runware_web.asgi:application"],
        cwd=checkout, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the worker exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return process, port
        time.sleep(0.1)  # another process starting: nothing to wait on but its port
    process.kill()
    raise SystemExit("the worker did not start")


def memory(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of a process, in bytes."""
    status = Path(f"/proc/{pid}/status").read_text()
    return {key: int(value) * 1024 for key, value in re.findall(r"^(VmRSS|VmHWM):\s+(\d+) kB", status, re.M)}


class Watch(threading.Thread):
    """Kills the worker should its RSS pass `limit` bytes (and remembers that it did)."""

    def __init__(self, process: subprocess.Popen, limit: int) -> None:
        super().__init__(daemon=True)
        self.process, self.limit, self.killed, self.done = process, limit, False, threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.02):
            with contextlib.suppress(OSError, KeyError):
                if memory(self.process.pid)["VmRSS"] > self.limit:
                    self.killed = True
                    self.process.kill()
                    return


# ------------------------------------------------------------------------------------ the member


class Member:
    def __init__(self, port: int) -> None:
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))

    def cookie(self, name: str) -> str:
        return next(cookie.value for cookie in self.cookies if cookie.name == name)

    def log_in(self) -> None:
        self.opener.open(self.base + "/accounts/login/", timeout=30)
        request = urllib.request.Request(
            self.base + "/accounts/login/", data=urllib.parse.urlencode({"username": "alice", "password": PASSWORD}).encode(),
            headers={"X-CSRFToken": self.cookie("csrftoken"), "Referer": self.base + "/accounts/login/"},
        )
        self.opener.open(request, timeout=30)
        self.cookie("sessionid")  # logged in, or StopIteration

    def upload(self, endpoint: str, head: bytes, body: io.RawIOBase, size: int, *, chunked: bool = False) -> int:
        """POST a multipart form whose file is `head` then `size - len(head)` bytes of `body`; the status."""
        path, fields, file_field, htmx = ENDPOINTS[endpoint]
        boundary = "----runware-bench-boundary"
        before = "".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
                         for name, value in fields.items())
        before += (f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; filename="upload.png"\r\n'
                   "Content-Type: image/png\r\n\r\n")
        after = f"\r\n--{boundary}--\r\n".encode()
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        connection.putrequest("POST", path)
        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}",
                   "Cookie": "; ".join(f"{c.name}={c.value}" for c in self.cookies),
                   "X-CSRFToken": self.cookie("csrftoken"), "Referer": self.base + path}
        if htmx:
            headers["HX-Request"] = "true"
        if chunked:
            headers["Transfer-Encoding"] = "chunked"
        else:
            headers["Content-Length"] = str(len(before.encode()) + size + len(after))
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.endheaders()
        with contextlib.suppress(ConnectionError):  # the worker may answer and close before the end
            for piece in pieces(before.encode(), head, body, size, after):
                connection.send(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            if chunked:
                connection.send(b"0\r\n\r\n")
        try:
            response = connection.getresponse()
            response.read()
            return response.status
        except (ConnectionError, http.client.HTTPException):
            return 0
        finally:
            connection.close()


def pieces(before: bytes, head: bytes, body: io.RawIOBase, size: int, after: bytes):
    yield before + head
    left = size - len(head)
    while left > 0:
        piece = body.read(min(CHUNK, left))
        left -= len(piece)
        yield piece
    yield after


class Zeros(io.RawIOBase):
    def read(self, n: int = -1) -> bytes:
        return bytes(n)


# ------------------------------------------------------------------------------------ the uploads


def small_png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


def noise_png(size: int) -> bytes:
    """A PNG of random pixels about `size` bytes long (random data does not compress)."""
    from PIL import Image

    side = int((size * 0.995 / 3) ** 0.5)
    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(out, format="PNG", compress_level=1)
    return out.getvalue()


def measure(checkout: Path, endpoint: str, megabytes: int, *, chunked: bool, max_rss: int) -> str:
    data_dir = Path(tempfile.mkdtemp(prefix="rw-bench-upload-"))
    env = worker_env(data_dir)
    try:
        prepare(checkout, env)
        worker, port = start(checkout, env)
        try:
            member = Member(port)
            member.log_in()
            warm = small_png()
            member.upload(endpoint, warm, io.BytesIO(), len(warm))
            if megabytes <= 10:
                head = noise_png(megabytes * MB)
                size, body = len(head), io.BytesIO()
            else:
                head, size, body = small_png(), megabytes * MB, Zeros()
            Path(f"/proc/{worker.pid}/clear_refs").write_text("5")  # reset VmHWM to the current RSS
            before = memory(worker.pid)["VmRSS"]
            watch = Watch(worker, max_rss)
            watch.start()
            status = member.upload(endpoint, head, body, size, chunked=chunked)
            watch.done.set()
            if watch.killed:
                return f"{endpoint:14} {size / MB:7.1f} MB  killed: RSS passed {max_rss / 2**30:.1f} GiB"
            growth = memory(worker.pid)["VmHWM"] - before
            return (f"{endpoint:14} {size / MB:7.1f} MB  status {status}  peak growth {growth / MIB:8.1f} MiB"
                    f"  = {growth / size:5.2f} × the upload")
        finally:
            if worker.poll() is None:
                worker.terminate()
                try:
                    worker.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    worker.kill()
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkout", type=Path, default=ROOT, help="the tree whose code the worker runs")
    parser.add_argument("--sizes", default="10,60,500", help="upload sizes in MB (default 10,60,500)")
    parser.add_argument("--endpoints", default=",".join(ENDPOINTS), help="which endpoints (default: all)")
    parser.add_argument("--chunked", action="store_true", help="send without Content-Length (chunked)")
    parser.add_argument("--max-rss", type=float, default=6.0, help="kill a worker above this RSS, GiB (default 6)")
    args = parser.parse_args()
    checkout = args.checkout.resolve()
    print(f"code: {checkout}  ({'chunked' if args.chunked else 'Content-Length'})")
    for megabytes in (int(size) for size in args.sizes.split(",")):
        for endpoint in args.endpoints.split(","):
            print(measure(checkout, endpoint, megabytes, chunked=args.chunked, max_rss=int(args.max_rss * 2**30)),
                  flush=True)


if __name__ == "__main__":
    main()
