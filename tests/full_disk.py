"""A disk that is really full: a small tmpfs mounted where the portal keeps media, filled to the
last byte by a filler file, so that writing an image fails as it does in production (ENOSPC).

`make_room()` removes the filler. Mounting needs root (CAP_SYS_ADMIN); where it is not permitted
the test is skipped, saying why.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

SIZE = "8m"  # room for a handful of the simulator's images once the filler is gone
_FILLER = ".filler"


class FullDisk:
    """A mounted tmpfs: `fill()` it, `make_room()` again; `path` is where media go."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def filler(self) -> Path:
        return self.path / _FILLER

    def fill(self, *, leave: int = 0) -> None:
        """Write zeros until the filesystem refuses (ENOSPC): not one byte is left, or about `leave`."""
        chunk = b"\0" * 65536
        with open(self.filler, "ab") as handle:
            try:
                while True:
                    handle.write(chunk)
                    handle.flush()
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
        self._fill_up(1024)
        self._fill_up(1)
        assert self.free() == 0, "the filler left room"
        if leave:
            os.truncate(self.filler, self.filler.stat().st_size - leave)

    def _fill_up(self, size: int) -> None:
        """Top the filler up with smaller writes, until even those do not fit."""
        with contextlib.suppress(OSError), open(self.filler, "ab", buffering=0) as handle:
            while True:
                handle.write(b"\0" * size)

    def make_room(self) -> None:
        self.filler.unlink(missing_ok=True)

    def free(self) -> int:
        stats = os.statvfs(self.path)
        return stats.f_bavail * stats.f_frsize

    def files(self) -> list[Path]:
        """The files the portal wrote there (not the filler)."""
        return [path for path in self.path.rglob("*") if path.is_file() and path.name != _FILLER]


@contextlib.contextmanager
def full_disk(path: Path) -> Iterator[FullDisk]:
    """A tmpfs of SIZE mounted at `path` (made if needed) for the duration; unmounted after."""
    path.mkdir(parents=True, exist_ok=True)
    mount = shutil.which("mount")
    if mount is None or (hasattr(os, "geteuid") and os.geteuid() != 0):
        pytest.skip("filling a disk for real needs root to mount a small tmpfs (mount -t tmpfs)")
    done = subprocess.run([mount, "-t", "tmpfs", "-o", f"size={SIZE}", "tmpfs", str(path)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"mounting a small tmpfs is not permitted here: {done.stderr.strip()}")
    try:
        yield FullDisk(path)
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False, capture_output=True)
