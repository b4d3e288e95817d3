from django.urls import path

from runware_web.team import views

app_name = "team"

urlpatterns = [
    path("invitations/", views.invitations, name="invitations"),
    path("invitations/<int:pk>/revoke/", views.revoke, name="revoke_invitation"),
    path("join/<str:token>/", views.open_link, name="open_link"),
    path("join/", views.join, name="join"),
]
