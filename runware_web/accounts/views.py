"""Password change and reset: Django's own views and tokens, in the portal's pages.

A reset token is single-use (it is derived from the password hash and the last login, so setting a
password spends it) and expires after PASSWORD_RESET_TIMEOUT. Django's confirm view moves the token
out of the URL into the session before the form is shown, so it never reaches a Referer header or a
log line of this portal.
"""

from __future__ import annotations

from typing import Any

from axes.utils import reset as reset_login_failures
from django.conf import settings
from django.contrib.auth import views as auth_views

from runware_web.accounts import audit, sso


class LoginView(auth_views.LoginView):
    """Django's login page and form, unchanged for password users, with the single sign-on button
    when it is configured."""

    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["sso"] = sso.button()
        return context

    def render_to_response(self, context: dict[str, Any], **kwargs: Any):
        return sso.allow_form_to_issuer(super().render_to_response(context, **kwargs))


class ResetMinutesMixin:
    """Pages and the email say how long a reset link works."""

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)  # type: ignore[misc]
        context["reset_minutes"] = settings.PASSWORD_RESET_TIMEOUT // 60
        return context


class PasswordResetView(ResetMinutesMixin, auth_views.PasswordResetView):
    template_name = "accounts/password_reset.html"
    email_template_name = "accounts/password_reset_email.txt"
    subject_template_name = "accounts/password_reset_subject.txt"

    @property
    def extra_email_context(self) -> dict[str, Any]:  # type: ignore[override]
        return {"reset_minutes": settings.PASSWORD_RESET_TIMEOUT // 60}


class PasswordResetDoneView(ResetMinutesMixin, auth_views.PasswordResetDoneView):
    template_name = "accounts/password_reset_done.html"


class PasswordResetConfirmView(ResetMinutesMixin, auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"

    def form_valid(self, form):
        """A member who proved they own the address is not kept out by earlier wrong guesses."""
        response = super().form_valid(form)
        reset_login_failures(username=form.user.get_username())
        audit.record(audit.Action.PASSWORD_RESET, by=form.user, team=form.user.team_id,
                     target=f"password of {form.user.get_username()}", before="forgotten",
                     after="set through the emailed link", address=audit.address_of(self.request))
        return response


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_reset_complete.html"


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "accounts/password_change.html"

    def form_valid(self, form):
        response = super().form_valid(form)
        audit.record(audit.Action.PASSWORD_CHANGED, by=form.user, team=form.user.team_id,
                     target=f"password of {form.user.get_username()}", before="old password",
                     after="new password", address=audit.address_of(self.request))
        return response


class PasswordChangeDoneView(auth_views.PasswordChangeDoneView):
    template_name = "accounts/password_change_done.html"
