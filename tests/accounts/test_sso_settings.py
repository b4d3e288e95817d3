"""Single sign-on is configured from the environment: all of issuer, client id and secret, or none."""

from __future__ import annotations

from tests.test_settings import run_django

SSO = {"RUNWARE_WEB_SSO_ISSUER": "https://login.example.com/realms/acme", "RUNWARE_WEB_SSO_CLIENT_ID": "portal",
       "RUNWARE_WEB_SSO_CLIENT_SECRET": "s3cret", "DJANGO_DEBUG": "1"}
SHOW = ("from django.conf import settings as s; app = s.SOCIALACCOUNT_PROVIDERS['openid_connect']['APPS']; "
        "print(app and app[0]['settings']['server_url'], app and app[0]['name'], sorted(s.SSO_TEAM_DOMAINS.items()))")


def test_half_a_configuration_is_refused_naming_what_is_missing():
    done = run_django(["check"], **{**SSO, "RUNWARE_WEB_SSO_CLIENT_SECRET": ""})
    assert done.returncode != 0
    assert "Single sign-on needs all of" in done.stderr and "missing: RUNWARE_WEB_SSO_CLIENT_SECRET." in done.stderr


def test_a_whole_configuration_makes_the_provider_and_the_domain_rule():
    done = run_django(["shell", "-c", SHOW], **SSO, RUNWARE_WEB_SSO_LABEL="Acme login",
                      RUNWARE_WEB_SSO_TEAM_DOMAINS="Pixels.test=Pixels, corp.example = Night shift, broken")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == ("https://login.example.com/realms/acme Acme login "
                                   "[('corp.example', 'Night shift'), ('pixels.test', 'Pixels')]")


def test_without_it_single_sign_on_is_off():
    done = run_django(["shell", "-c", SHOW], DJANGO_DEBUG="1")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[] [] []"
