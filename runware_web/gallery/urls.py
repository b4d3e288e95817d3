from django.urls import path

from runware_web.views import coming_soon

app_name = "gallery"

urlpatterns = [
    path("", coming_soon("Gallery", "Every image you made, searchable and reusable."), name="index"),
]
