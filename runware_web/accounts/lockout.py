"""What a locked-out login sees: the login page again, with the lock and its end next to the form.

django-axes calls `lockout_response` (settings.AXES_LOCKOUT_CALLABLE) instead of its plain-text
answer. Every attempt during a lockout starts the cool-off again (axes' default), so the lock ends
one cool-off after this attempt.
"""

from __future__ import annotations

from typing import Any

from axes.helpers import get_cool_off
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from runware_web.accounts import sso


def lockout_response(request: HttpRequest, *_ignored: Any) -> HttpResponse:
    """429 with the login form (username kept, password not) and until when it is locked.

    Takes any further arguments: axes passes (response, credentials) or only (credentials)
    depending on whether the middleware ran sync or async.
    """
    username = request.POST.get("username", "")
    cool_off = get_cool_off(request)
    context = {
        # Unbound on purpose: validating it would authenticate again and count another failure.
        "form": AuthenticationForm(request, initial={"username": username}),
        "next": request.POST.get("next", ""),
        "locked_until": timezone.localtime(timezone.now() + cool_off) if cool_off else None,
        "locked_minutes": round(cool_off.total_seconds() / 60) if cool_off else None,
        "sso": sso.button(),  # single sign-on is not what is locked
    }
    return sso.allow_form_to_issuer(render(request, "accounts/login.html", context, status=429))
