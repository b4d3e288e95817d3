from django.apps import AppConfig


class ThreeDConfig(AppConfig):
    name = "runware_web.threed"
    label = "threed"
