from django.apps import AppConfig


class VideoConfig(AppConfig):
    name = "runware_web.video"
    label = "video"
