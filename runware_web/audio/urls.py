from django.urls import path

from runware_web.audio import views

app_name = "audio"

urlpatterns = [
    path("", views.index, name="index"),
    path("estimate", views.estimate, name="estimate"),
]
