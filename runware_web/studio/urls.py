from django.urls import path

from runware_web.views import coming_soon

app_name = "studio"

urlpatterns = [
    path("", coming_soon("Studio", "Write a prompt, pick a model and watch your images arrive."), name="index"),
]
