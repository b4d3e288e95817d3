from django.urls import path

from runware_web.activity import views as activity

app_name = "activity"

urlpatterns = [
    path("", activity.index, name="index"),
    path("<uuid:task_id>/cancel", activity.cancel, name="cancel"),
]
