"""Shared start-up for benchmark scripts: Django on a throw-away database, a zero-delay simulator."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def django_with_fresh_database() -> None:
    """Configure Django (test settings) on a fresh SQLite file, or on DATABASE_URL when it is set."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    os.environ.setdefault("RUNWARE_WEB_DATA_DIR", tempfile.mkdtemp(prefix="runware-bench-"))
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", interactive=False, verbosity=0)


def database_label() -> str:
    from django.conf import settings

    return settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
