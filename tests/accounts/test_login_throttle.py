"""Failed logins are throttled per account and address (django-axes), and the lock says until when."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import F
from django.test import Client
from django.urls import reverse

from tests.accounts.conftest import link_in
from tests.accounts.test_passwords import NEW_PASSWORD, request_reset, set_password_through

pytestmark = pytest.mark.django_db

RIGHT = "correct horse battery"


def attempt(username: str, password: str, address: str = "203.0.113.7", **headers):
    return Client(REMOTE_ADDR=address, **headers).post(reverse("login"), {"username": username, "password": password})


def lock(username: str = "alice", address: str = "203.0.113.7") -> None:
    for _ in range(settings.AXES_FAILURE_LIMIT):
        attempt(username, "wrong guess", address)


def test_the_limit_comes_from_the_environment_with_a_sensible_default():
    assert settings.AXES_FAILURE_LIMIT == 5
    assert settings.AXES_COOLOFF_TIME.total_seconds() == 15 * 60
    assert settings.AXES_LOCKOUT_PARAMETERS == [["username", "ip_address"]]


def test_a_few_typos_do_not_lock_and_a_success_clears_them(user):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert attempt("alice", "wrong guess").status_code == 200
    assert attempt("alice", RIGHT).status_code == 302
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        attempt("alice", "wrong guess")
    assert attempt("alice", RIGHT).status_code == 302  # the count started again after the success


def test_a_locked_login_refuses_even_the_right_password_and_says_until_when(user):
    lock()
    response = attempt("alice", RIGHT)
    page = response.content.decode()
    assert response.status_code == 429
    form = re.search(r"<form method=\"post\" action=\"/accounts/login/\".*?</form>", page, re.S).group(0)
    message = re.search(r'<div class="form-error" role="alert" id="login-locked">(.*?)</div>', form, re.S)
    assert message, "the lock is shown inside the login form"
    assert "locked for 15 minutes" in message.group(1)
    assert re.search(r"Try again after \d\d:\d\d \(UTC\)", message.group(1))
    assert 'value="alice"' in form  # what was typed is kept
    assert "_auth_user_id" not in Client().session


def test_the_lock_is_per_account_and_address(user, other_user):
    lock("alice", "203.0.113.7")
    assert attempt("alice", RIGHT, "203.0.113.7").status_code == 429
    assert attempt("alice", RIGHT, "198.51.100.20").status_code == 302  # the same member elsewhere
    assert attempt("mallory", RIGHT, "203.0.113.7").status_code == 302  # a colleague behind the same address


def test_a_forged_forwarded_for_header_does_not_escape_the_lock(user):
    """The address is REMOTE_ADDR (set by Daphne's --proxy-headers behind the proxy), never a client header."""
    for n in range(settings.AXES_FAILURE_LIMIT):
        attempt("alice", "wrong guess", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}")
    assert attempt("alice", RIGHT, HTTP_X_FORWARDED_FOR="192.0.2.99").status_code == 429


def test_the_lock_ends_after_the_cool_off(user):
    lock()
    assert attempt("alice", RIGHT).status_code == 429
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - settings.AXES_COOLOFF_TIME - timedelta(seconds=1))
    assert attempt("alice", RIGHT).status_code == 302


def test_a_password_reset_lifts_the_lock(client, user, mailbox):
    lock()
    request_reset(client, "alice@example.com")
    set_password_through(client, link_in(mailbox.wait_for("alice@example.com")))
    assert attempt("alice", NEW_PASSWORD).status_code == 302


def test_a_session_made_with_force_login_is_not_throttled(client, user):
    """Tests (and the portal's sockets) that use an existing session never pass through axes."""
    lock()
    client.force_login(user)
    assert client.get(reverse("studio:index")).status_code == 200
