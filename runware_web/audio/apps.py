from django.apps import AppConfig


class AudioConfig(AppConfig):
    name = "runware_web.audio"
    label = "audio"
