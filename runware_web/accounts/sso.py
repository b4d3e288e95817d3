"""Single sign-on with OpenID Connect, through django-allauth's OpenID Connect provider.

Configured from the environment (settings: RUNWARE_WEB_SSO_ISSUER, _CLIENT_ID, _CLIENT_SECRET,
_LABEL; off when unset). Only the provider's two URLs and allauth's few social pages are mounted
(accounts/urls.py): the portal's own login page stays the way in for password users, with one more
button, and nobody can make a local account through allauth (invitations do that).

The optional rule SSO_TEAM_DOMAINS puts a person signing in for the first time into a team by the
domain of their email address, but only when the provider says it verified that address: anyone
could otherwise claim an address at the company's domain and join its team.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from allauth.account.adapter import DefaultAccountAdapter
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialLogin
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponseBase
from django.urls import reverse

from runware_web.accounts import audit
from runware_web.accounts.models import Team, User

PROVIDER_ID = "sso"  # the one OpenID Connect app's id: its URLs are /accounts/sso/oidc/sso/login/…
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


def button() -> dict[str, str] | None:
    """What the login page shows for single sign-on (its label and where it posts), or None when off."""
    if not configured():
        return None
    return {"label": settings.SSO_BUTTON_LABEL,
            "url": reverse("openid_connect_login", kwargs={"provider_id": PROVIDER_ID})}


def configured() -> bool:
    return _app() is not None


def _app() -> dict[str, Any] | None:
    apps = settings.SOCIALACCOUNT_PROVIDERS.get("openid_connect", {}).get("APPS", [])
    return next((app for app in apps if app.get("provider_id") == PROVIDER_ID), None)


def issuer_origin() -> str:
    """`scheme://host[:port]` of the issuer, or "" when single sign-on is off."""
    app = _app()
    parts = urlsplit(app["settings"]["server_url"]) if app else None
    return f"{parts.scheme}://{parts.netloc}" if parts and parts.netloc else ""


def allow_form_to_issuer(response: HttpResponseBase) -> HttpResponseBase:
    """Let this page's forms lead to the provider. The policy's form-action is 'self', and browsers
    apply it to the redirects after a form is sent too: the SSO button posts to the portal, which
    redirects to the provider's authorization endpoint (at the issuer's origin)."""
    origin = issuer_origin()
    if origin:
        update = dict(getattr(response, "_csp_update", None) or {})
        update["form-action"] = [*update.get("form-action", ()), origin]
        response._csp_update = update  # type: ignore[attr-defined]  # django-csp's per-response update
    return response


def allows_form_to_issuer(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """`allow_form_to_issuer` for every response of a view (allauth's own sign-in page)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        return allow_form_to_issuer(view(request, *args, **kwargs))

    return wrapped


def team_for(email: str) -> Team | None:
    """The team the domain rule gives this address, if any (the domain's team must exist)."""
    domain = email.rpartition("@")[2].lower()
    name = settings.SSO_TEAM_DOMAINS.get(domain) if domain else None
    return Team.objects.filter(name=name).first() if name else None


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest) -> bool:
        """No local sign-up through allauth: accounts come from invitations, or from SSO (below)."""
        return False

    def login(self, request: HttpRequest, user: Any) -> None:
        """Log in with Django's ModelBackend: allauth would otherwise pick the first backend that can
        load a user, which is django-axes' and cannot."""
        if not hasattr(user, "backend"):
            user.backend = MODEL_BACKEND
        super().login(request, user)


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def is_open_for_signup(self, request: HttpRequest, sociallogin: SocialLogin) -> bool:
        return configured()

    @transaction.atomic
    def save_user(self, request: HttpRequest, sociallogin: SocialLogin, form: Any = None) -> User:
        """The new member, put in a team by the domain rule when their address is verified."""
        user: User = super().save_user(request, sociallogin, form)
        verified = {address.email.lower() for address in sociallogin.email_addresses if address.verified}
        if user.team_id is None and user.email and user.email.lower() in verified:
            team = team_for(user.email)
            if team is not None:
                user.team = team
                user.save(update_fields=["team"])
                audit.record(audit.Action.TEAM, by=user, team=team, target=f"member {user.get_username()}",
                             before=None, after=f"{team.name} (single sign-on, by email domain)",
                             address=audit.address_of(request))
        return user
