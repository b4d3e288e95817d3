from django.urls import path

from runware_web.studio.consumers import StudioConsumer

websocket_urlpatterns = [
    path("ws/studio/", StudioConsumer.as_asgi()),
]
