from django.urls import path

from runware_web.views import coming_soon

app_name = "catalog"

urlpatterns = [
    path("", coming_soon("Models", "Search every model Runware offers and use it in the studio."), name="index"),
]
