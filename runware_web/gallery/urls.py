from django.urls import path

from runware_web.gallery import views

app_name = "gallery"

urlpatterns = [
    path("", views.index, name="index"),
    path("team/", views.team, name="team"),
    path("trash/", views.trash_index, name="trash"),
    path("trash/empty", views.empty_trash, name="empty_trash"),
    path("selection", views.selection, name="selection"),
    path("<uuid:image_id>/", views.detail, name="detail"),
    path("<uuid:image_id>/file", views.image_file, name="file"),
    path("<uuid:image_id>/thumb", views.image_thumbnail, name="thumb"),
    path("<uuid:image_id>/download", views.download, name="download"),
    path("<uuid:image_id>/favourite", views.favourite, name="favourite"),
    path("<uuid:image_id>/share", views.share, name="share"),
    path("<uuid:image_id>/delete", views.delete, name="delete"),
    path("<uuid:image_id>/restore", views.restore, name="restore"),
]
