from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from runware_web import views

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="studio:index", permanent=False), name="home"),
    path("healthz", views.health, name="health"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("accounts/", include("runware_web.accounts.urls")),
    path("account/", include("runware_web.spend.account_urls")),
    path("studio/", include("runware_web.studio.urls")),
    path("gallery/", include("runware_web.gallery.urls")),
    path("history/", include("runware_web.history.urls")),
    path("models/", include("runware_web.catalog.urls")),
    path("chat/", include("runware_web.chat.urls")),
    path("tools/", include("runware_web.tools.urls")),
    path("video/", include("runware_web.video.urls")),
    path("audio/", include("runware_web.audio.urls")),
    path("3d/", include("runware_web.threed.urls")),
    path("activity/", include("runware_web.activity.urls")),
    path("spend/", include("runware_web.spend.urls")),
    path("team/", include("runware_web.team.urls")),
    path("keys/", include("runware_web.endpoint.urls")),
    path("", include("runware_web.endpoint.api_urls")),  # /v1: the Runware-compatible endpoint
    path("admin/", admin.site.urls),
]
