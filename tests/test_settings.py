"""Settings come from the environment and refuse values that make no sense, with a clear message."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from runware_web.lib.env import env_bool, env_decimal, env_int, env_list, env_secret

ROOT = settings.BASE_DIR


def run_django(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("DJANGO_", "RUNWARE", "DATABASE_", "REDIS_"))}
    clean["DJANGO_SETTINGS_MODULE"] = "runware_web.settings"
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env={**clean, **env}, capture_output=True, text=True
    )


@pytest.mark.parametrize("raw, expected", [("true", True), ("False", False), ("1", True), ("off", False)])
def test_booleans_accept_the_usual_spellings(monkeypatch, raw, expected):
    monkeypatch.setenv("SOME_FLAG", raw)
    assert env_bool("SOME_FLAG", not expected) is expected


def test_a_boolean_that_is_not_one_is_refused_by_name(monkeypatch):
    monkeypatch.setenv("DJANGO_DEBUG", "sometimes")
    with pytest.raises(ImproperlyConfigured, match="DJANGO_DEBUG='sometimes' is not a boolean"):
        env_bool("DJANGO_DEBUG", False)


def test_numbers_and_amounts_are_checked(monkeypatch):
    monkeypatch.setenv("RUNWARE_MAX_RETRIES", "three")
    with pytest.raises(ImproperlyConfigured, match="not a whole number"):
        env_int("RUNWARE_MAX_RETRIES", 3)
    monkeypatch.setenv("RUNWARE_MAX_RETRIES", "-1")
    with pytest.raises(ImproperlyConfigured, match="at least 0"):
        env_int("RUNWARE_MAX_RETRIES", 3, minimum=0)
    monkeypatch.setenv("BUDGET", "12.50")
    assert env_decimal("BUDGET", None) == Decimal("12.50")
    monkeypatch.setenv("BUDGET", "lots")
    with pytest.raises(ImproperlyConfigured, match="not a decimal amount"):
        env_decimal("BUDGET", None)


def test_lists_and_secret_files(monkeypatch, tmp_path):
    monkeypatch.setenv("DJANGO_ALLOWED_HOSTS", "portal.example.com, .example.org ,")
    assert env_list("DJANGO_ALLOWED_HOSTS", []) == ["portal.example.com", ".example.org"]
    secret = tmp_path / "key"
    secret.write_text("from-a-file\n")
    monkeypatch.setenv("RUNWARE_API_KEY_FILE", str(secret))
    monkeypatch.setenv("RUNWARE_API_KEY", "from-the-environment")
    assert env_secret("RUNWARE_API_KEY") == "from-a-file"


def test_production_refuses_to_start_without_a_secret_key():
    result = run_django(["check"], DJANGO_DEBUG="false")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY (or DJANGO_SECRET_KEY_FILE) must be set" in result.stderr


def test_a_bad_value_stops_the_portal_with_its_name():
    result = run_django(["check"], DJANGO_DEBUG="maybe")
    assert result.returncode != 0
    assert "DJANGO_DEBUG='maybe' is not a boolean" in result.stderr


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    result = run_django(
        ["check", "--deploy", "--fail-level", "WARNING"],
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY="x9!" * 20 + "production-grade-secret-key",
        DJANGO_ALLOWED_HOSTS="portal.example.com",
        RUNWARE_API_KEY="some-real-key",
        RUNWARE_WEB_DATA_DIR=str(tmp_path),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_embedded_defaults_are_sqlite_and_in_memory_layer():
    result = run_django(
        ["shell", "-c", "from django.conf import settings as s; print(s.DATABASES['default']['ENGINE'], "
         "s.CHANNEL_LAYERS['default']['BACKEND'], s.RUNWARE_SIMULATED, s.RUNWARE_WS_URL)"],
        DJANGO_DEBUG="true",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1].split() == [
        "django.db.backends.sqlite3", "channels.layers.InMemoryChannelLayer", "True", "wss://ws-api.runware.ai/v1"
    ]
