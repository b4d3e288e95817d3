from django.apps import AppConfig


class ToolsConfig(AppConfig):
    name = "runware_web.tools"
    verbose_name = "Tools"

    def ready(self) -> None:
        from runware_web.tools import handlers  # noqa: F401  (registers the tools' task handler)
