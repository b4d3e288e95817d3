"""`python3 manage.py runtests [pytest args]`: install what the tests need and run them all
(`--prepare-only`: install and check, run nothing).

Installs Debian's Chromium for the browser tests when it is missing (never a browser download),
checks the import contracts of docs/architecture.md (`lint-imports`, configured in pyproject.toml),
then runs pytest. Exits with pytest's code; "no tests ran" (pytest's 5) counts as a failure.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

CHROMIUM = "/usr/bin/chromium"


class Command(BaseCommand):
    help = "Install test prerequisites (Debian's chromium) and run the whole test suite."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--prepare-only", action="store_true",
                            help="Install what the tests need and check the import contracts, then stop "
                                 "(before runs side by side, which would install it all at once).")
        # REMAINDER: pytest's own options (-x, -k …) after a path go to pytest, not to this command.
        parser.add_argument("pytest_args", nargs=argparse.REMAINDER, help="Extra arguments for pytest.")

    def handle(self, *args, pytest_args: list[str], prepare_only: bool = False, **options) -> None:
        self._ensure_chromium()
        self._check_layers()
        if prepare_only:
            return
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
        self.stdout.write(
            f"Database: {settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]}; "
            f"channel layer: {settings.CHANNEL_LAYERS['default']['BACKEND'].rsplit('.', 1)[-1]}"
        )
        code = subprocess.call([sys.executable, "-m", "pytest", *pytest_args], cwd=settings.BASE_DIR, env=env)
        if code == 5:
            raise CommandError("pytest collected no tests: that is a failure, not a pass.", returncode=5)
        if code:
            raise CommandError(f"pytest failed with exit code {code}.", returncode=code)

    def _check_layers(self) -> None:
        """Each layer imports only the layers below it, features never import each other, no cycles."""
        lint = os.path.join(os.path.dirname(sys.executable), "lint-imports")
        if subprocess.call([lint], cwd=settings.BASE_DIR):
            raise CommandError("An import breaks the architecture's contracts (see above and docs/architecture.md).")

    def _ensure_chromium(self) -> None:
        if os.path.exists(CHROMIUM):
            return
        if not shutil.which("apt-get"):
            raise CommandError("Chromium is missing and apt-get is not available: install Debian's chromium.")
        self.stdout.write("Installing Debian's chromium for the browser tests…")
        sudo = [] if os.geteuid() == 0 else ["sudo"]
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run([*sudo, "apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run([*sudo, "apt-get", "install", "-y", "-qq", "chromium", "fonts-dejavu-core"], check=True, env=env)
