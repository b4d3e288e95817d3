from django.apps import AppConfig


class HistoryConfig(AppConfig):
    name = "runware_web.history"
    verbose_name = "History"
