from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "runware_web.catalog"
    verbose_name = "Model catalogue"
