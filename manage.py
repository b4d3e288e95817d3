#!/usr/bin/env python3
"""Django's command-line utility for runware-web.

`python3 manage.py up` and `python3 manage.py runtests` work on a fresh machine: they first
create `.venv/` and install the project into it (see runware_web/bootstrap.py), then re-run
themselves inside it.
"""

import os
import sys

# Environment defaults of the two README commands: `up` is the local, embedded set-up; the test
# run uses the test settings (production settings made fit for plain-HTTP test servers).
COMMAND_DEFAULTS = {
    "up": {"DJANGO_DEBUG": "true"},
    "runtests": {"DJANGO_SETTINGS_MODULE": "tests.settings"},
}


def main() -> None:
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command in COMMAND_DEFAULTS:
        from runware_web.bootstrap import ensure_environment

        ensure_environment(command=command)
        for name, value in COMMAND_DEFAULTS[command].items():
            os.environ.setdefault(name, value)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "runware_web.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
