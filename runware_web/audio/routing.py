from django.urls import path

from runware_web.audio.consumers import AudioConsumer

websocket_urlpatterns = [
    path("ws/audio/", AudioConsumer.as_asgi()),
]
