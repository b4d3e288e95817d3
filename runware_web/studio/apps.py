from django.apps import AppConfig


class StudioConfig(AppConfig):
    name = "runware_web.studio"
    verbose_name = "Studio"
