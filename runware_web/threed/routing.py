from django.urls import path

from runware_web.threed.consumers import ThreeDConsumer

websocket_urlpatterns = [
    path("ws/3d/", ThreeDConsumer.as_asgi()),
]
