from django.urls import path

from runware_web.threed import views

app_name = "threed"

urlpatterns = [
    path("", views.index, name="index"),
    path("estimate", views.estimate, name="estimate"),
    path("image", views.upload_image, name="upload_image"),
]
