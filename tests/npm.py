"""npm packages that some tests run with node (the JavaScript SDK, a Draco compressor, an OpenID
Connect provider), installed once per machine into directories outside the checkout and kept
between runs (`RUNWARE_WEB_NPM_CACHE`, by default ~/.cache/runware-web/npm).

Each directory is worked on under a file lock: CI's two passes run side by side and share them,
and two `npm install`s into one directory, or a script rewritten while the other pass starts node
on it, would break that other pass.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


def cache_root() -> Path:
    return Path(os.environ.get("RUNWARE_WEB_NPM_CACHE") or Path.home() / ".cache" / "runware-web" / "npm")


@contextlib.contextmanager
def locked(where: Path) -> Iterator[None]:
    """`where` (made if need be), held for this process alone."""
    where.mkdir(parents=True, exist_ok=True)
    with open(where / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def required(name: str, packages: dict[str, str], *, without: str) -> Path:
    """The directory `name` under the cache, with `packages` installed in it. Without node and npm
    the test is skipped (`without` says what cannot be done); when npm fails, skipped too, except in
    CI (`CI` set), where that is a failure."""
    if not (shutil.which("node") and shutil.which("npm")):
        pytest.skip(f"node and npm are not installed: {without}")
    where = cache_root() / name
    if reason := install(where, packages):
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return where


def install(where: Path, packages: dict[str, str]) -> str | None:
    """`packages` (name → exact version, or a range npm understands when the name alone is checked:
    "9" for any 9.x) installed in `where` unless they already are; why npm failed, or None."""
    with locked(where):
        if all(_installed(where, name, version) for name, version in packages.items()):
            return None
        (where / "package.json").write_text('{"private": true}\n')
        done = subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--no-save",
             *(f"{name}@{version}" for name, version in packages.items())],
            cwd=where, capture_output=True, text=True, timeout=300,
        )
        if done.returncode != 0:
            return f"npm could not install {', '.join(packages)}: {done.stderr.strip()[-500:]}"
    return None


def place(where: Path, name: str, text: str) -> Path:
    """A script beside `where`'s node_modules (so that its imports resolve there), rewritten only
    when it changed."""
    path = where / name
    with locked(where):
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
    return path


def _installed(where: Path, name: str, version: str) -> bool:
    manifest = where / "node_modules" / name / "package.json"
    if not manifest.exists():
        return False
    found = json.loads(manifest.read_text()).get("version", "")
    return found == version or found.startswith(f"{version}.")
