from django.urls import path

from runware_web.views import coming_soon

app_name = "spend"

urlpatterns = [
    path("", coming_soon("Spend", "What every member and team spends, and their budgets."), name="index"),
]
