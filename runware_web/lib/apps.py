from django.apps import AppConfig


class LibConfig(AppConfig):
    """Small shared helpers; an app only so that its template filters load everywhere."""

    name = "runware_web.lib"
    verbose_name = "Shared helpers"
