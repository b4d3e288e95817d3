from django.urls import path

from runware_web.spend import views

app_name = "account"

urlpatterns = [
    path("usage/", views.usage, name="usage"),
]
