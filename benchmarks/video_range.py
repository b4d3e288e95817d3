"""Video range: a 200 MB video streamed into storage and out of it, never read whole into memory.

1. Into storage. A 200 MB H.264 MP4 (random frames, so it does not compress) is made with PyAV and
   served over HTTP from this process; the portal's own path for a Runware result then fetches it
   block by block (`media.video.download`) and stores it with its poster (`media.video.save_video`).
   Printed: this process's peak RSS growth while it did so (VmHWM − VmRSS after `clear_refs`).
2. Out of storage. A Daphne worker, started as production starts it (`python -m
   runware_web.live.server`), on the same data dir (SQLite, media on local disk) serves the video
   through the access-checked `/gallery/<id>/file`. Ten clients download all of it at once; printed:
   the worker's peak RSS growth meanwhile, and the time they took.
3. Seeking. Range requests (`bytes=a-b`, 1 MB at random offsets, one connection each as a browser's
   seek does) one after the other; printed: p50 and p95 of the time to the first byte of the body
   (the aim: p95 under 20 ms from local storage), the worker's CPU time per request, and the
   machine's load average (on a shared, busy machine the times say more about the load than the code).

Usage (from the repository root):

    .venv/bin/python benchmarks/video_range.py
    .venv/bin/python benchmarks/video_range.py --size-mb 50 --clients 10 --ranges 300
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import http.cookiejar
import os
import random
import re
import shutil
import socket
import statistics
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
PASSWORD = "correct horse battery"
WORKER = "from runware_web.live.server import main; main()"  # Daphne as production starts it


def env_for(data_dir: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "DJANGO_ALLOW_ASYNC_UNSAFE", "RUNWARE_API_KEY"}
    }
    env.update(
        DJANGO_SETTINGS_MODULE="tests.settings",
        RUNWARE_WEB_DATA_DIR=str(data_dir),
        RUNWARE_WEB_MEDIA_ROOT=str(data_dir / "media"),
        TMPDIR=str(data_dir),
        # Nothing here starts a task: an address where nothing listens is enough.
        RUNWARE_WS_URL="ws://127.0.0.1:9/v1",
        RUNWARE_HTTP_URL="http://127.0.0.1:9/v1",
    )
    return env


def memory(pid: int | str = "self") -> dict[str, int]:
    """VmRSS and VmHWM of a process, in bytes."""
    status = Path(f"/proc/{pid}/status").read_text()
    return {key: int(value) * 1024 for key, value in re.findall(r"^(VmRSS|VmHWM):\s+(\d+) kB", status, re.M)}


def reset_peak(pid: int | str = "self") -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM := VmRSS


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def mib(value: float) -> str:
    return f"{value / (1024 * 1024):.1f} MiB"


# ------------------------------------------------------------------------------------ the video


def make_video(path: Path, size: int) -> None:
    """An H.264 MP4 of at least `size` bytes: 640×360 frames of noise, encoded losslessly, frame by frame."""
    import av

    width, height = 640, 360
    with av.open(str(path), "w", options={"movflags": "+faststart"}) as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "ultrafast", "qp": "0", "threads": "2"}
        written = 0
        while written < size:
            frame = av.VideoFrame.from_bytes(os.urandom(width * height * 4), width, height, format="rgba")
            for packet in stream.encode(frame):
                written += packet.size
                container.mux(packet)
        container.mux(stream.encode())


def serve_file(path: Path) -> tuple[str, threading.Thread]:
    """A plain HTTP server for one file, as Runware's URL of a result (in a thread of this process)."""
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    class Quiet(SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(path.parent), **kwargs)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return f"http://127.0.0.1:{server.server_address[1]}/{path.name}", thread


def store(url: str):
    """The portal's path for a video result: fetched block by block, stored with its poster."""
    from runware_web.accounts.models import User
    from runware_web.media.video import download, save_video

    path = asyncio.run(download(url))
    try:
        return save_video(
            user=User.objects.get(username="alice"), path=path, url=url, prompt="two hundred megabytes"
        )
    finally:
        os.unlink(path)


# ------------------------------------------------------------------------------------ the worker


def start_worker(env: dict[str, str]) -> tuple[subprocess.Popen, int]:
    with contextlib.closing(socket.socket()) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-c", WORKER, "-b", "127.0.0.1", "-p", str(port), "runware_web.asgi:application"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
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


def session_cookie(port: int) -> str:
    base = f"http://127.0.0.1:{port}"
    cookies = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(cookies))
    opener.open(base + "/accounts/login/", timeout=30)
    csrf = next(cookie.value for cookie in cookies if cookie.name == "csrftoken")
    opener.open(
        urllib.request.Request(
            base + "/accounts/login/",
            data=urllib.parse.urlencode({"username": "alice", "password": PASSWORD}).encode(),
            headers={"X-CSRFToken": csrf, "Referer": base + "/accounts/login/"},
        ),
        timeout=30,
    )
    return "; ".join(f"{cookie.name}={cookie.value}" for cookie in cookies)


class PeakWatch(threading.Thread):
    """Samples a process's RSS (VmHWM is exact; this also shows the worker is alive throughout)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.done, self.samples = pid, threading.Event(), 0

    def run(self) -> None:
        while not self.done.wait(0.05):
            with contextlib.suppress(OSError, KeyError):
                memory(self.pid)
                self.samples += 1


def download_whole(port: int, path: str, cookie: str, expected: int) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    try:
        connection.request("GET", path, headers={"Cookie": cookie})
        response = connection.getresponse()
        assert response.status == 200, response.status
        received = 0
        while block := response.read(1024 * 1024):
            received += len(block)
        assert received == expected, (received, expected)
        return received
    finally:
        connection.close()


def first_byte(port: int, path: str, cookie: str, start: int, end: int, size: int) -> float:
    """Seconds from sending a Range request to the first byte of its body (a new connection each)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.connect()
        began = time.perf_counter()
        connection.request("GET", path, headers={"Cookie": cookie, "Range": f"bytes={start}-{end}"})
        response = connection.getresponse()
        response.read(1)
        elapsed = time.perf_counter() - began
        assert response.status == 206 and response.headers["Content-Range"] == f"bytes {start}-{end}/{size}"
        response.read()
        return elapsed
    finally:
        connection.close()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--ranges", type=int, default=300)
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="runware-video-range-"))
    env = env_for(data_dir)
    os.environ.update(
        {
            key: env[key]
            for key in ("DJANGO_SETTINGS_MODULE", "RUNWARE_WEB_DATA_DIR", "RUNWARE_WEB_MEDIA_ROOT", "TMPDIR")
        }
    )
    for key in ("DATABASE_URL", "REDIS_URL"):
        os.environ.pop(key, None)
    tempfile.tempdir = str(data_dir)
    sys.path.insert(0, str(ROOT))
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", interactive=False, verbosity=0)
    from runware_web.accounts.models import User

    User.objects.create_user("alice", password=PASSWORD)

    source = data_dir / "result.mp4"
    began = time.monotonic()
    make_video(source, args.size_mb * MB)
    size = source.stat().st_size
    print(f"video: {size / MB:.1f} MB H.264 MP4, made in {time.monotonic() - began:.1f} s")

    url, _ = serve_file(source)
    reset_peak()
    before = memory()["VmRSS"]
    began = time.monotonic()
    video = store(url)
    stored_in = time.monotonic() - began
    growth = memory()["VmHWM"] - before
    source.unlink()
    print(
        f"into storage: fetched and stored in {stored_in:.1f} s; this process's peak RSS grew by {mib(growth)} "
        f"({growth / size:.3f} of the video)"
    )
    assert video.size_bytes == size

    worker, port = start_worker(env)
    try:
        cookie = session_cookie(port)
        path = f"/gallery/{video.pk}/file"
        download_whole(port, path, cookie, size)  # warm: the first request imports what the view needs
        time.sleep(0.5)  # let the worker settle before its peak mark is reset
        reset_peak(worker.pid)
        baseline = memory(worker.pid)
        watch = PeakWatch(worker.pid)
        watch.start()
        began = time.monotonic()
        threads = [
            threading.Thread(target=download_whole, args=(port, path, cookie, size))
            for _ in range(args.clients)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        took = time.monotonic() - began
        watch.done.set()
        peak = memory(worker.pid)["VmHWM"]
        print(
            f"out of storage: {args.clients} clients downloaded all {size / MB:.0f} MB at once in {took:.1f} s "
            f"({args.clients * size / MB / took:.0f} MB/s); the worker's RSS {mib(baseline['VmRSS'])} before, "
            f"peak {mib(peak)} (+{mib(peak - baseline['VmRSS'])}, "
            f"{(peak - baseline['VmRSS']) / (args.clients * size):.4f} of what was sent)"
        )

        rng = random.Random(17)
        chunk = MB
        for _ in range(20):  # warm
            start = rng.randrange(0, size - chunk)
            first_byte(port, path, cookie, start, start + chunk - 1, size)
        times = []
        cpu_before = cpu_seconds(worker.pid)
        for _ in range(args.ranges):
            start = rng.randrange(0, size - chunk)
            times.append(first_byte(port, path, cookie, start, start + chunk - 1, size))
        cpu_each = (cpu_seconds(worker.pid) - cpu_before) / args.ranges
        p50, p95 = statistics.median(times), percentile(times, 0.95)
        print(
            f"seeking: {args.ranges} Range requests of 1 MB at random offsets, time to first byte "
            f"p50 {p50 * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms, max {max(times) * 1000:.1f} ms "
            f"(aim: p95 under 20 ms) -> {'met' if p95 < 0.020 else 'NOT met'}; the worker's CPU per request "
            f"{cpu_each * 1000:.1f} ms; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
        )
    finally:
        worker.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            worker.wait(timeout=30)
        if worker.poll() is None:
            worker.kill()
        shutil.rmtree(data_dir, ignore_errors=True)  # a 200 MB video, twice


if __name__ == "__main__":
    main()
