"""Make `python3 manage.py up|runtests` work on a machine that has only Python.

Standard library only: this runs before Django is importable. It creates `.venv/` next to
manage.py, installs the project (with the extras the command needs) whenever pyproject.toml
changed since the last install, and re-executes the command with the virtualenv's Python.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXTRAS = {"up": "scale", "runtests": "test"}


def _venv_dir() -> Path:
    return Path(os.environ.get("RUNWARE_WEB_VENV", ROOT / ".venv"))


def _stamp(extra: str) -> str:
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes())
    digest.update(extra.encode())
    return digest.hexdigest()


def _say(message: str) -> None:
    print(f"[runware-web] {message}", flush=True)


def ensure_environment(*, command: str) -> None:
    """Install what `command` needs into the virtualenv, then re-exec inside it if needed."""
    extra = EXTRAS[command]
    venv_dir = _venv_dir()
    python = venv_dir / "bin" / "python"
    if not python.exists():
        _say(f"creating a virtual environment in {venv_dir}")
        venv.EnvBuilder(with_pip=True).create(venv_dir)
    stamp_file = venv_dir / f".runware-web-{extra}.stamp"
    wanted = _stamp(extra)
    if not stamp_file.exists() or stamp_file.read_text() != wanted:
        _say(f"installing runware-web[{extra}] (first run or pyproject.toml changed)")
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             "-e", f"{ROOT}[{extra}]"],
            check=True,
        )
        stamp_file.write_text(wanted)
    if Path(sys.prefix).resolve() != venv_dir.resolve():
        os.execv(str(python), [str(python), str(ROOT / "manage.py"), *sys.argv[1:]])
