"""In Chromium: single sign-on through a real OpenID Connect provider that the test starts (the
certified `oidc-provider` package from the npm registry, installed into a temporary directory).

A first sign-in makes the account and, by the email-domain rule, puts it in its team, and the audit
log says so; an address the provider did not verify joins no team; the password form still works.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings
from django.test.utils import override_settings
from playwright.sync_api import expect

from runware_web.accounts.models import AuditEntry, Role, Team, User
from tests import npm
from tests.accounts.conftest import free_port
from tests.accounts.test_browser_team import SHOTS, SIZES, shoot
from tests.browser import log_in
from tests.conftest import make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PROVIDER_PACKAGE, PROVIDER_MAJOR = "oidc-provider", "9"
SCRIPT = Path(__file__).parent / "oidc" / "provider.mjs"
INSTALL_DIR = Path(tempfile.gettempdir()) / "runware-web-tests-oidc-provider"
CLIENT_ID, CLIENT_SECRET = "runware-web-tests", "tests-only-client-secret-5b7e"
LABEL = "Sign in with Acme SSO"


def installed_provider() -> Path:
    """The directory holding oidc-provider (installed once per machine, outside the repository)."""
    node, npm_command = shutil.which("node"), shutil.which("npm")
    if not node or not npm_command:
        pytest.skip("Node.js and npm are needed to run the OpenID Connect provider these tests sign in through "
                    "(install the nodejs and npm packages).")
    reason = npm.install(INSTALL_DIR, {PROVIDER_PACKAGE: PROVIDER_MAJOR})
    assert reason is None, reason
    # ES modules find packages from the script's own directory, so the script runs from there.
    npm.place(INSTALL_DIR, "provider.mjs", SCRIPT.read_text())
    return INSTALL_DIR


def wait_until_serving(url: str, process: subprocess.Popen, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the provider exited: {process.stdout.read() if process.stdout else ''}"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)
    raise AssertionError(f"the OpenID Connect provider did not answer {url} within {timeout} s")


@pytest.fixture(scope="module")
def issuer(live_server_url):
    """A running provider whose one client is the portal, redirecting to the live server's callback."""
    directory = installed_provider()
    port = free_port()
    env = {**os.environ, "PORT": str(port), "CLIENT_ID": CLIENT_ID, "CLIENT_SECRET": CLIENT_SECRET,
           "REDIRECT_URI": f"{live_server_url}/accounts/sso/oidc/sso/login/callback/"}
    process = subprocess.Popen(["node", "provider.mjs"], cwd=directory, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(f"{url}/.well-known/openid-configuration", process)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def sso_on(issuer):
    providers = {"openid_connect": {"OAUTH_PKCE_ENABLED": True, "APPS": [{
        "provider_id": "sso", "name": LABEL, "client_id": CLIENT_ID, "secret": CLIENT_SECRET,
        "settings": {"server_url": issuer},
    }]}}
    with override_settings(SOCIALACCOUNT_PROVIDERS=providers, SSO_BUTTON_LABEL=LABEL,
                           SSO_TEAM_DOMAINS={"pixels.test": "Pixels"}):
        yield issuer


def quiet_provider_pages(page, issuer: str) -> None:
    """The provider's development pages ask for a Google font and a favicon, neither of which this
    machine serves: answer both with nothing, so the console checks stay about the portal."""
    page.route("https://fonts.googleapis.com/**", lambda route: route.fulfill(content_type="text/css", body=""))
    page.route(f"{issuer}/favicon.ico", lambda route: route.fulfill(content_type="image/x-icon", body=b""))


def sign_in_at_the_provider(page, login: str) -> None:
    """The provider's own pages: its development sign-in form (any login), then its consent."""
    quiet_provider_pages(page, settings.SOCIALACCOUNT_PROVIDERS["openid_connect"]["APPS"][0]["settings"]["server_url"])
    page.get_by_role("button", name=LABEL).click()
    page.locator("input[name=login]").fill(login)
    page.locator("input[name=password]").fill("anything at all")
    page.get_by_role("button", name="Sign-in").click()
    page.get_by_role("button", name="Continue").click()


def test_a_first_sso_sign_in_makes_the_account_in_the_team_of_its_email_domain(page, sso_on):
    pixels = Team.objects.create(name="Pixels")
    page.goto("/gallery/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/gallery/$"))
    expect(page.get_by_label("Username")).to_be_visible()  # the password form is still there

    sign_in_at_the_provider(page, "dana@pixels.test")

    expect(page).to_have_url(re.compile(r"/gallery/$"))
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    dana = User.objects.get(email="dana@pixels.test")
    assert (dana.team_id, dana.role, dana.has_usable_password()) == (pixels.pk, Role.MEMBER, False)
    joined = AuditEntry.objects.get(action=AuditEntry.Action.TEAM)
    assert (joined.actor_id, joined.before, joined.team_id) == (dana.pk, "none", pixels.pk)
    assert "email domain" in joined.after

    page.get_by_role("button", name="Log out").click()
    page.goto("/accounts/login/")
    page.get_by_role("button", name=LABEL).click()  # the provider remembers Dana: no questions this time
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    assert User.objects.filter(email="dana@pixels.test").count() == 1


def test_an_address_the_provider_did_not_verify_joins_no_team(page, sso_on):
    Team.objects.create(name="Pixels")
    page.goto("/accounts/login/")
    sign_in_at_the_provider(page, "unverified-eve@pixels.test")
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()
    eve = User.objects.get(email="unverified-eve@pixels.test")
    assert eve.team_id is None
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.TEAM).exists()


def test_password_users_log_in_as_before_with_sso_on(page, sso_on):
    make_user("alice")
    page.goto("/accounts/login/")
    expect(page.get_by_role("button", name=LABEL)).to_be_visible()
    log_in(page, "alice")
    expect(page.get_by_role("navigation", name="Main")).to_be_visible()


def test_without_configuration_there_is_no_sso_button(page):
    page.goto("/accounts/login/")
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("single sign-on|SSO", re.I))).to_have_count(0)


@pytest.mark.skipif(not SHOTS, reason="only to look at the page: set RUNWARE_WEB_SCREENSHOTS to a directory")
@pytest.mark.parametrize("size", SIZES)
def test_screenshots_of_the_login_page_with_sso(new_page, sso_on, size):
    page = new_page(viewport=SIZES[size])
    page.goto("/accounts/login/")
    shoot(page, f"login-sso-{size}")
