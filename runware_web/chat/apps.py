from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "runware_web.chat"
    verbose_name = "Chat"
