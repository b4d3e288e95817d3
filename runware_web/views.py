from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_safe


@require_safe
@login_not_required
def health(request: HttpRequest) -> JsonResponse:
    """For load balancers: 200 when the database answers."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


def coming_soon(title: str, blurb: str):
    """A page that a later piece fills in: honest about it, and logged-in only like every page."""

    @require_safe
    def view(request: HttpRequest):
        from django.shortcuts import render

        return render(request, "coming_soon.html", {"title": title, "blurb": blurb})

    return view
