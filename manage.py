#!/usr/bin/env python3
"""Django's command-line utility for runware-web.

`python3 manage.py up` and `python3 manage.py runtests` work on a fresh machine: they first
create `.venv/` and install the project into it (see runware_web/bootstrap.py), then re-run
themselves inside it. `up --help` answers at once, before any of that.
"""

import os
import sys

# Environment defaults of the two README commands: `up` is the local, embedded set-up (debug off,
# plain HTTP, a kept secret key: bootstrap.up_environment); the test run uses the test settings
# (production settings made fit for plain-HTTP test servers).
COMMAND_DEFAULTS = {
    "up": {},
    "runtests": {"DJANGO_SETTINGS_MODULE": "tests.settings"},
}


def main() -> None:
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command in COMMAND_DEFAULTS:
        from runware_web import bootstrap

        if command == "up" and bootstrap.up_help_requested(sys.argv[2:]):
            bootstrap.print_up_help()  # at once: nothing to install to say what the options are
            return
        bootstrap.ensure_environment(command=command)
    run(sys.argv)


def run(argv: list[str]) -> None:
    """Django's command line with the environment defaults of `argv`'s command (once installed)."""
    command = argv[1] if len(argv) > 1 else ""
    defaults = dict(COMMAND_DEFAULTS.get(command, {}))
    if command == "up":
        from runware_web.bootstrap import up_environment

        defaults.update(up_environment(argv[2:], os.environ))
        if "--debug" in argv[2:]:
            os.environ["DJANGO_DEBUG"] = "true"  # asked for on the command line: wins over the environment
    for name, value in defaults.items():
        os.environ.setdefault(name, value)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "runware_web.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(argv)


if __name__ == "__main__":
    main()
