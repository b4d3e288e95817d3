from django.urls import path

from runware_web.team import alerts_views, audit_views, members_views, rules_views, views

app_name = "team"

urlpatterns = [
    path("", members_views.members, name="members"),
    path("members/<int:pk>/", members_views.member, name="member"),
    path("budget/<int:pk>/", members_views.team_budget, name="team_budget"),
    path("rules/", rules_views.rules, name="rules"),
    path("rules/<int:pk>/", rules_views.team_rules, name="team_rules"),
    path("alerts/", alerts_views.alerts_page, name="alerts"),
    path("alerts/<int:pk>/", alerts_views.team_webhook, name="team_webhook"),
    path("invitations/", views.invitations, name="invitations"),
    path("invitations/<int:pk>/revoke/", views.revoke, name="revoke_invitation"),
    path("audit/", audit_views.audit_log, name="audit"),
    path("audit.csv", audit_views.audit_csv, name="audit_csv"),
    path("join/<str:token>/", views.open_link, name="open_link"),
    path("join/", views.join, name="join"),
]
