"""Make `python3 manage.py up|runtests` work on a machine that has only Python.

Standard library only: this runs before Django is importable. It creates `.venv/` next to
manage.py, installs the project (with the extras the command needs) whenever pyproject.toml
changed since the last install, and re-executes the command with the virtualenv's Python.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import secrets
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXTRAS = {"up": "scale", "runtests": "test"}

# `up`'s options, declared here (standard library) so that `up --help` answers before anything is
# installed; the management command adds the same ones to Django's parser.
UP_DESCRIPTION = "Set up and serve the portal (with the Runware simulator when no API key is set)."
UP_OPTIONS: list[tuple[tuple[str, ...], dict]] = [
    (("--host",), {
        "default": "127.0.0.1",
        "help": "Address to listen on (default 127.0.0.1; 0.0.0.0 for every interface).",
    }),
    (("--port",), {"type": int, "default": 8000, "help": "Port of the portal (default 8000)."}),
    (("--simulator-port",), {
        "type": int, "default": 8765,
        "help": "Port of the built-in Runware simulator, used when no RUNWARE_API_KEY is set (default 8765).",
    }),
    (("--debug",), {
        "action": "store_true",
        "help": "Django's debug mode, for development: error pages that show code, settings and every URL.",
    }),
    (("--behind-tls",), {
        "action": "store_true",
        "help": "The portal sits behind an HTTPS reverse proxy: redirect to HTTPS, cookies only over HTTPS, "
                "HSTS. Without it the portal serves plain HTTP.",
    }),
]
SECRET_KEY_FILE = "secret_key"


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


def up_help_requested(argv: list[str]) -> bool:
    """Whether `manage.py up …` asks only for help: answered at once, before creating or installing anything."""
    return any(arg in {"-h", "--help"} for arg in argv)


def print_up_help() -> None:
    parser = argparse.ArgumentParser(prog="python3 manage.py up", description=UP_DESCRIPTION)
    for flags, options in UP_OPTIONS:
        parser.add_argument(*flags, **options)
    parser.print_help()


def up_environment(argv: list[str], environ: os._Environ | dict[str, str]) -> dict[str, str]:
    """The environment `up` serves with, unless the operator's environment says otherwise.

    Debug stays off (a visitor never sees Django's debug pages) unless `--debug`. The secret key is
    generated once and kept in the data directory, so sessions outlive a restart. Plain HTTP on the
    local address works: no HTTPS redirect, secure-only cookies or HSTS unless `--behind-tls`.
    """
    defaults = {"DJANGO_DEBUG": "true" if "--debug" in argv else "false"}
    if not environ.get("DJANGO_SECRET_KEY") and not environ.get("DJANGO_SECRET_KEY_FILE"):
        data_dir = Path(environ.get("RUNWARE_WEB_DATA_DIR") or ROOT / ".data")
        defaults["DJANGO_SECRET_KEY_FILE"] = str(kept_secret_key(data_dir))
    if "--behind-tls" not in argv:
        defaults.update(DJANGO_SECURE_SSL_REDIRECT="false", DJANGO_SECURE_COOKIES="false",
                        DJANGO_SECURE_HSTS_SECONDS="0", DJANGO_BEHIND_TLS_PROXY="false")
    return defaults


def kept_secret_key(data_dir: Path) -> Path:
    """The data directory's secret key file, made on first use (readable by its owner only)."""
    path = data_dir / SECRET_KEY_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another `up` made it a moment ago: keep that one
            return path
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_urlsafe(50) + "\n")
    return path
