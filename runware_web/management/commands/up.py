"""`python3 manage.py up`: set up and serve the portal in one command, one terminal.

Migrates, creates a demo admin the first time (printing its password once), starts the Runware
simulator in this process when no RUNWARE_API_KEY is set, and serves HTTP + WebSockets with
Daphne. Ctrl-C stops everything.

Debug is off unless `--debug`: visitors get the portal's own 403/404/500 pages. manage.py sets the
environment for that before settings load (runware_web/bootstrap.py: a secret key kept in the data
directory, plain HTTP unless `--behind-tls`).
"""

from __future__ import annotations

import errno
import secrets
import socket

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from runware_web.accounts.models import Team, User
from runware_web.bootstrap import UP_DESCRIPTION, UP_OPTIONS


class Command(BaseCommand):
    help = UP_DESCRIPTION

    def add_arguments(self, parser: CommandParser) -> None:
        # --debug and --behind-tls are read by manage.py before settings load (bootstrap.up_environment).
        for flags, options in UP_OPTIONS:
            parser.add_argument(*flags, **options)

    def handle(self, *args, host: str, port: int, simulator_port: int, **options) -> None:
        # Before anything else: a second `up` (or another server) on a port is told so in one line.
        _check_port_free(host, port, "--port", f"the portal's port {port}")
        if settings.RUNWARE_SIMULATED:
            _check_port_free("127.0.0.1", simulator_port, "--simulator-port",
                             f"the Runware simulator's port {simulator_port}")
        call_command("migrate", interactive=False, verbosity=0)
        if not settings.DEBUG:
            call_command("collectstatic", interactive=False, verbosity=0)
        self._ensure_demo_admin()

        simulator = None
        if settings.RUNWARE_SIMULATED:
            # Imported only when it runs: the portal imports the simulator only to start it.
            from runware_web.simulator.server import run_in_thread

            simulator = run_in_thread(host="127.0.0.1", port=simulator_port)
            settings.RUNWARE_WS_URL = simulator.ws_url
            settings.RUNWARE_HTTP_URL = simulator.http_url
            self.stdout.write(f"Runware simulator (no RUNWARE_API_KEY set): {simulator.ws_url}")
        else:
            self.stdout.write(f"Runware: {settings.RUNWARE_WS_URL}")

        # Imported only now: importing daphne.server installs Twisted's asyncio reactor.
        from daphne.endpoints import build_endpoint_description_strings

        from runware_web.asgi import application
        from runware_web.live.server import PortalServer

        shown_host = "127.0.0.1" if host in {"0.0.0.0", "::"} else host
        self.stdout.write(self.style.SUCCESS(f"\nrunware-web is running at http://{shown_host}:{port}/"))
        if settings.DEBUG:
            self.stdout.write(self.style.WARNING("Debug mode is on (--debug): error pages show code and settings. "
                                                 "Never use it where others can reach the portal."))
        self.stdout.write("Press Ctrl-C to stop.\n")
        try:
            PortalServer(  # Daphne, closing a socket sent a message too big with 1009
                application=application,
                endpoints=build_endpoint_description_strings(host=host, port=port),
                server_name="",  # no `Server: daphne` header: names no server software to a prober
                verbosity=0,
            ).run()
        finally:
            if simulator is not None:
                simulator.stop()
            self.stdout.write("Stopped.")

    def _ensure_demo_admin(self) -> None:
        if User.objects.filter(is_superuser=True).exists():
            return
        password = secrets.token_urlsafe(12)
        team, _ = Team.objects.get_or_create(name="Demo team")
        User.objects.create_superuser(username="admin", email="admin@example.com", password=password, team=team)
        self.stdout.write(self.style.WARNING(
            "Created the demo administrator (shown only this once):\n"
            f"    username: admin\n    password: {password}\n"
            "Change it under Admin → Users, or run `python3 manage.py changepassword admin`."
        ))


def _check_port_free(host: str, port: int, option: str, what: str) -> None:
    """Refuse in one line, naming the option that changes it, when `port` cannot be listened on."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers do: TIME_WAIT is no obstacle
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise CommandError(f"{what[0].upper()}{what[1:]} is already in use on {host} (is the portal already running?). "
                                   f"Stop what uses it, or choose another port with {option} {port + 1}.") from None
            raise CommandError(f"Cannot listen on {host}:{port} ({exc.strerror}). "
                               f"Choose another address with --host or another port with {option}.") from None

