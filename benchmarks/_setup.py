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
    _create_postgresql_database()
    call_command("migrate", interactive=False, verbosity=0)


def _create_postgresql_database() -> None:
    """DATABASE_URL may name a database that does not exist yet: made here (its server's `postgres`
    database reached with the same credentials), as `migrate` would otherwise wait on the pool."""
    from django.conf import settings

    database = settings.DATABASES["default"]
    if not database["ENGINE"].endswith("postgresql"):
        return
    import psycopg
    from psycopg import sql

    params = {"host": database["HOST"] or None, "port": database["PORT"] or None,
              "user": database["USER"] or None, "password": database["PASSWORD"] or None}
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as server:
        if not server.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database["NAME"]]).fetchone():
            server.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database["NAME"])))


def database_label() -> str:
    from django.conf import settings

    return settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
