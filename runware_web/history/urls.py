from django.urls import path

from runware_web.history import views as history

app_name = "history"

urlpatterns = [
    path("", history.index, name="index"),
    path("<uuid:task_id>/row", history.row, name="row"),
]
