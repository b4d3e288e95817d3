"""`/v1` over HTTP (Runware's REST API) and the signed media URLs of its results."""

from django.urls import path

from runware_web.endpoint import views

app_name = "endpoint_api"

urlpatterns = [
    path("v1", views.rest, name="rest"),
    path("v1/media/<str:token>.<str:ext>", views.media, name="media"),
]
