from django.urls import path

from runware_web.studio import views

app_name = "studio"

urlpatterns = [
    path("", views.index, name="index"),
    path("generate", views.generate, name="generate"),
    path("estimate", views.estimate, name="estimate"),
    path("upload", views.upload, name="upload"),
    path("image-input", views.image_input, name="image_input"),
    path("g/<uuid:task_id>/", views.generation, name="generation"),
    path("g/<uuid:task_id>/cancel", views.cancel, name="cancel"),
]
