from django.apps import AppConfig


class MediaConfig(AppConfig):
    name = "runware_web.media"
    verbose_name = "Media store"
