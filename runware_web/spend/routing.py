from django.urls import path

from runware_web.spend.consumers import SpendConsumer

websocket_urlpatterns = [
    path("ws/spend/", SpendConsumer.as_asgi()),
]
