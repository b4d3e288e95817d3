from django.apps import AppConfig


class GalleryConfig(AppConfig):
    name = "runware_web.gallery"
    verbose_name = "Gallery"
