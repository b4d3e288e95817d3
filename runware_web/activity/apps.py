from django.apps import AppConfig


class ActivityConfig(AppConfig):
    name = "runware_web.activity"
    verbose_name = "Activity"
