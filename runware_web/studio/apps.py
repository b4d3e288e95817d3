from django.apps import AppConfig


class StudioConfig(AppConfig):
    name = "runware_web.studio"
    verbose_name = "Studio"

    def ready(self) -> None:
        from runware_web.studio import handlers  # noqa: F401  (registers the studio's task handler)
