from django.apps import AppConfig


class SpendConfig(AppConfig):
    name = "runware_web.spend"
    verbose_name = "Spend"
