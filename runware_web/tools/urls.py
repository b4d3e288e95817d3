from django.urls import path

from runware_web.tools import views

app_name = "tools"

urlpatterns = [
    path("", views.index, name="index"),
    path("upload/", views.upload, name="upload"),
    path("enhance/", views.enhance, name="enhance"),
    path("run/<str:task_type>/", views.run_tool, name="run"),
]
