from django.urls import path

from runware_web.video import views

app_name = "video"

urlpatterns = [
    path("", views.index, name="index"),
    path("estimate", views.estimate, name="estimate"),
    path("settings", views.model_settings, name="settings"),
    path("frame", views.upload_frame, name="upload_frame"),
]
