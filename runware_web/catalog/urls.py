from django.urls import path

from runware_web.catalog import views

app_name = "catalog"

urlpatterns = [
    path("", views.index, name="index"),
    path("picker/", views.picker, name="picker"),
    path("picker/choose/", views.picker_choose, name="picker_choose"),
    path("picker/chosen/", views.picker_chosen, name="picker_chosen"),
]
