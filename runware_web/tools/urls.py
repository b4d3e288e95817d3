from django.urls import path

from runware_web.views import coming_soon

app_name = "tools"

urlpatterns = [
    path("", coming_soon("Tools", "Caption, upscale, remove backgrounds, make ControlNet guides and masks."), name="index"),
]
