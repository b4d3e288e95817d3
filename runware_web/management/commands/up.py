"""`python3 manage.py up`: set up and serve the portal in one command, one terminal.

Migrates, creates a demo admin the first time (printing its password once), starts the Runware
simulator in this process when no RUNWARE_API_KEY is set, and serves HTTP + WebSockets with
Daphne. Ctrl-C stops everything.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from runware_web.accounts.models import Team, User


class Command(BaseCommand):
    help = "Set up and serve the portal (with the Runware simulator when no API key is set)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--simulator-port", type=int, default=8765)

    def handle(self, *args, host: str, port: int, simulator_port: int, **options) -> None:
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
        from daphne.server import Server

        from runware_web.asgi import application

        shown_host = "127.0.0.1" if host in {"0.0.0.0", "::"} else host
        self.stdout.write(self.style.SUCCESS(f"\nrunware-web is running at http://{shown_host}:{port}/"))
        self.stdout.write("Press Ctrl-C to stop.\n")
        try:
            Server(
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
