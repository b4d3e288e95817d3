"""Members change their password, and reset a forgotten one through a link sent over real SMTP."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.test import Client
from django.urls import reverse

from runware_web.accounts.models import User
from tests.accounts.conftest import body_of, link_in

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a brand new passphrase 42"


def request_reset(client: Client, address: str):
    return client.post(reverse("password_reset"), {"email": address}, follow=True)


def set_password_through(client: Client, link: str, password: str = NEW_PASSWORD):
    """Open the emailed link, then post the new password where it leads."""
    opened = client.get(link, follow=True)
    assert opened.status_code == 200
    assert opened.context["validlink"], "the link from the email was refused"
    form_url = opened.redirect_chain[-1][0]
    return client.post(form_url, {"new_password1": password, "new_password2": password}, follow=True)


def logs_in(username: str, password: str) -> bool:
    response = Client().post(reverse("login"), {"username": username, "password": password})
    return response.status_code == 302


def test_a_reset_link_arrives_by_smtp_and_the_new_password_logs_in(client, user, mailbox):
    sent = request_reset(client, "alice@example.com")
    assert "Check your email" in sent.content.decode()

    message = mailbox.wait_for("alice@example.com")
    assert message["Subject"] == "Reset your runware-web password"
    assert message["From"] == "portal@example.com"
    assert "works once, for 60 minutes" in body_of(message)

    done = set_password_through(client, link_in(message))
    assert "Password set" in done.content.decode()
    assert logs_in("alice", NEW_PASSWORD)
    assert not logs_in("alice", "correct horse battery")


def test_a_reset_link_works_only_once(client, user, mailbox):
    request_reset(client, "alice@example.com")
    link = link_in(mailbox.wait_for("alice@example.com"))
    set_password_through(client, link)

    again = Client().get(link, follow=True)
    assert not again.context["validlink"]
    assert "This link no longer works" in again.content.decode()
    assert "already been used, has expired" in again.content.decode()


def test_a_reset_link_expires(client, user, mailbox, monkeypatch):
    request_reset(client, "alice@example.com")
    link = link_in(mailbox.wait_for("alice@example.com"))

    issued = PasswordResetTokenGenerator()._now()
    later = issued + timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT + 60)
    monkeypatch.setattr(PasswordResetTokenGenerator, "_now", lambda self: later)

    opened = Client().get(link, follow=True)
    assert not opened.context["validlink"]
    assert "This link no longer works" in opened.content.decode()
    assert logs_in("alice", "correct horse battery")


def test_an_unknown_address_sees_the_same_page_and_no_mail_is_sent(client, user, mailbox):
    sent = request_reset(client, "nobody@example.com")
    assert sent.status_code == 200
    assert "Check your email" in sent.content.decode()
    request_reset(client, "alice@example.com")
    mailbox.wait_for("alice@example.com")  # the control: mail is going out
    assert mailbox.to("nobody@example.com") == []


def test_a_bad_address_is_shown_next_to_the_field_with_what_was_typed(client, user):
    response = client.post(reverse("password_reset"), {"email": "alice-at-example"})
    page = response.content.decode()
    assert response.status_code == 200
    assert re.search(r'<p class="field-error" id="id_email_error">Enter a valid email address.</p>', page)
    assert 'value="alice-at-example"' in page


def test_the_reset_token_never_appears_in_the_logs(client, user, mailbox, caplog):
    caplog.set_level(logging.INFO)
    request_reset(client, "alice@example.com")
    link = link_in(mailbox.wait_for("alice@example.com"))
    uid, token = link.rstrip("/").split("/")[-2:]
    set_password_through(client, link)
    Client().get(link, follow=True)  # a spent link
    Client().get(link.replace(token, token[:-3] + "xyz"), follow=True)  # a mangled one

    portal_records = [r for r in caplog.records if not r.name.startswith("mail.log")]  # not the test's SMTP server
    logged = "\n".join(f"{r.name} {r.getMessage()} {r.args}" for r in portal_records)
    assert token not in logged
    assert token[:-3] not in logged


def test_changing_the_password_needs_the_current_one(alice_client, user):
    url = reverse("password_change")
    wrong = alice_client.post(url, {"old_password": "not it", "new_password1": NEW_PASSWORD,
                                    "new_password2": NEW_PASSWORD})
    page = wrong.content.decode()
    assert wrong.status_code == 200
    assert re.search(r'id="id_old_password_error">Your old password was entered incorrectly', page)

    mismatch = alice_client.post(url, {"old_password": "correct horse battery", "new_password1": NEW_PASSWORD,
                                       "new_password2": NEW_PASSWORD + "!"})
    assert re.search(r'id="id_new_password2_error">The two password fields didn.t match', mismatch.content.decode())

    changed = alice_client.post(url, {"old_password": "correct horse battery", "new_password1": NEW_PASSWORD,
                                      "new_password2": NEW_PASSWORD}, follow=True)
    assert "Password changed" in changed.content.decode()
    assert alice_client.get(reverse("studio:index")).status_code == 200  # still logged in here
    assert User.objects.get(pk=user.pk).check_password(NEW_PASSWORD)


def test_every_page_links_to_the_password_change(alice_client):
    page = alice_client.get(reverse("studio:index")).content.decode()
    assert f'href="{reverse("password_change")}"' in page


def test_the_login_page_links_to_the_reset(client):
    page = client.get(reverse("login")).content.decode()
    assert f'href="{reverse("password_reset")}">Forgot your password?' in page
