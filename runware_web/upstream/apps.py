from django.apps import AppConfig


class UpstreamConfig(AppConfig):
    name = "runware_web.upstream"
    verbose_name = "Upstream (Runware)"
