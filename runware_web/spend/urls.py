from django.urls import path

from runware_web.spend import views

app_name = "spend"

urlpatterns = [
    path("", views.index, name="index"),
    path("export.csv", views.export, name="export"),
    path("budgets/member/<int:pk>/", views.set_budget, {"kind": "member"}, name="member_budget"),
    path("budgets/team/<int:pk>/", views.set_budget, {"kind": "team"}, name="team_budget"),
    path("balance/", views.take_reading, name="balance"),
]
