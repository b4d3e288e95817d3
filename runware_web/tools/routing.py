from django.urls import path

from runware_web.tools.consumers import ToolsConsumer

websocket_urlpatterns = [
    path("ws/tools/", ToolsConsumer.as_asgi()),
]
