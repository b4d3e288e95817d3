from django.urls import path

from runware_web.endpoint import views

app_name = "endpoint"

urlpatterns = [
    path("", views.index, name="index"),
    path("new/", views.create, name="create"),
    path("<uuid:key_id>/revoke/", views.revoke, name="revoke"),
]
