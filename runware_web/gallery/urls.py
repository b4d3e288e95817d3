from django.urls import path

from runware_web.gallery import views
from runware_web.views import coming_soon

app_name = "gallery"

urlpatterns = [
    path("", coming_soon("Gallery", "Every image you made, searchable and reusable."), name="index"),
    path("<uuid:image_id>/file", views.image_file, name="file"),
    path("<uuid:image_id>/thumb", views.image_thumbnail, name="thumb"),
]
