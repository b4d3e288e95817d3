from django.apps import AppConfig


class EndpointConfig(AppConfig):
    name = "runware_web.endpoint"
    verbose_name = "Runware-compatible endpoint"
