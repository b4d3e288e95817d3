from django.urls import path

from runware_web.views import coming_soon

app_name = "chat"

urlpatterns = [
    path("", coming_soon("Chat", "Talk to Runware's text models; replies stream in as they are written."), name="index"),
]
