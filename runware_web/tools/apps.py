from django.apps import AppConfig


class ToolsConfig(AppConfig):
    name = "runware_web.tools"
    verbose_name = "Tools"
