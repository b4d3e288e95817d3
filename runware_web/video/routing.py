from django.urls import path

from runware_web.video.consumers import VideoConsumer

websocket_urlpatterns = [
    path("ws/video/", VideoConsumer.as_asgi()),
]
