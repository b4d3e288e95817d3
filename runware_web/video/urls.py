from django.urls import path

from runware_web.video import views

app_name = "video"

urlpatterns = [
    path("", views.index, name="index"),
    path("estimate", views.estimate, name="estimate"),
]
