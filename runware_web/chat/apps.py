from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "runware_web.chat"
    verbose_name = "Chat"

    def ready(self) -> None:
        from runware_web.chat import handlers  # noqa: F401  (registers the stream handler)
