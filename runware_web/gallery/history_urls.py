from django.urls import path

from runware_web.views import coming_soon

app_name = "history"

urlpatterns = [
    path("", coming_soon("History", "Every task you ran, with its status and cost."), name="index"),
]
