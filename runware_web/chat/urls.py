from django.urls import path

from runware_web.chat import views

app_name = "chat"

urlpatterns = [
    path("", views.index, name="index"),
    path("new/", views.new, name="new"),
    path("<uuid:conversation_id>/", views.conversation, name="conversation"),
    path("<uuid:conversation_id>/rename/", views.rename, name="rename"),
    path("<uuid:conversation_id>/settings/", views.save_settings, name="settings"),
    path("<uuid:conversation_id>/delete/", views.delete, name="delete"),
    path("<uuid:conversation_id>/send/", views.send, name="send"),
    path("<uuid:conversation_id>/edit/", views.edit, name="edit"),
    path("<uuid:conversation_id>/stop/", views.stop_reply, name="stop"),
    path("<uuid:conversation_id>/regenerate/", views.regenerate_reply, name="regenerate"),
]
