from django.apps import AppConfig
from django.db.backends.signals import connection_created

from runware_web.lib.reconnect import sweep_on_dead_connection


class LibConfig(AppConfig):
    """Small shared helpers; an app so that its template filters load everywhere, and so that a
    connection pool sweeps its dead connections at once (lib.reconnect)."""

    name = "runware_web.lib"
    verbose_name = "Shared helpers"

    def ready(self) -> None:
        connection_created.connect(sweep_on_dead_connection, dispatch_uid="runware_web.lib.reconnect")
