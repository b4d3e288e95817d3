from django.urls import path

from runware_web.views import coming_soon

app_name = "account"

urlpatterns = [
    path("usage/", coming_soon("Your usage", "What you spent this month and what remains of your budget."), name="usage"),
]
