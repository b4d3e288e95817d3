from django.apps import AppConfig


class RunwareWebConfig(AppConfig):
    """The project package doubles as an app for project-wide commands and template tags."""

    name = "runware_web"
    verbose_name = "runware-web"
