"""Mail goes to the console until EMAIL_HOST names an SMTP server; nonsense settings are refused."""

from __future__ import annotations

from tests.test_settings import run_django

SHOW = ("from django.conf import settings as s; "
        "print(s.EMAIL_BACKEND, s.EMAIL_HOST, s.EMAIL_PORT, s.EMAIL_USE_TLS, s.EMAIL_HOST_PASSWORD, s.DEFAULT_FROM_EMAIL)")
BASE = {"DJANGO_SECRET_KEY": "settings-test-key", "RUNWARE_WEB_DATA_DIR": "/tmp/runware-web-mail-settings"}


def test_mail_is_printed_on_the_console_by_default():
    result = run_django(["shell", "-v", "0", "-c", SHOW], **BASE)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] == "django.core.mail.backends.console.EmailBackend"


def test_an_smtp_server_from_the_environment_sends_the_mail(tmp_path):
    secret = tmp_path / "smtp-password"
    secret.write_text("s3cret-from-file\n")
    result = run_django(["shell", "-v", "0", "-c", SHOW], **BASE, EMAIL_HOST="smtp.example.com", EMAIL_PORT="587",
                        EMAIL_USE_TLS="true", EMAIL_HOST_PASSWORD_FILE=str(secret),
                        DEFAULT_FROM_EMAIL="portal@example.com")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.core.mail.backends.smtp.EmailBackend", "smtp.example.com", "587",
                                     "True", "s3cret-from-file", "portal@example.com"]


def test_tls_and_ssl_together_are_refused_by_name():
    result = run_django(["check"], **BASE, EMAIL_HOST="smtp.example.com", EMAIL_USE_TLS="true", EMAIL_USE_SSL="true")
    assert result.returncode != 0
    assert "EMAIL_USE_TLS (STARTTLS, usually port 587) and EMAIL_USE_SSL (port 465) exclude each other" in result.stderr


def test_the_login_lock_is_set_from_the_environment():
    show = "from django.conf import settings as s; print(s.AXES_FAILURE_LIMIT, s.AXES_COOLOFF_TIME, s.AXES_ENABLED)"
    result = run_django(["shell", "-v", "0", "-c", show], **BASE, RUNWARE_WEB_LOGIN_FAILURE_LIMIT="3",
                        RUNWARE_WEB_LOGIN_LOCKOUT_MINUTES="60")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["3", "1:00:00", "True"]
    refused = run_django(["check"], **BASE, RUNWARE_WEB_LOGIN_FAILURE_LIMIT="0")
    assert "RUNWARE_WEB_LOGIN_FAILURE_LIMIT='0' must be at least 1" in refused.stderr
