"""What a request holds once the middleware has run, for type checkers and readers.

Every page needs a login (LoginRequiredMiddleware), so a view's `request.user` is a member; django-htmx
adds `request.htmx`.
"""

from __future__ import annotations

from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails

from runware_web.accounts.models import User


class AuthenticatedHttpRequest(HttpRequest):
    user: User
    htmx: HtmxDetails
