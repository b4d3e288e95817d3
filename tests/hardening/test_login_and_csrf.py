"""Login is required on every URL and socket, and every POST needs its CSRF token.

Both tests walk the URL resolver, so a new page is covered the moment it is routed.
"""

from __future__ import annotations

import re
import uuid

import pytest
from django.conf import settings
from django.shortcuts import resolve_url
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.urls.resolvers import RegexPattern

from runware_web.media.models import Image
from tests.conftest import make_user
from tests.hardening.helpers import make_image, member_socket

OPEN_TO_EVERYONE = {"login", "admin:login", "health"}  # the two login pages and the health check
# The way back in for someone who forgot their password: Django's reset views (a bad link is a 200 page).
OPEN_TO_EVERYONE |= {"password_reset", "password_reset_done", "password_reset_confirm", "password_reset_complete"}
# The way in for someone invited to a team (a link that does not work is a 200 page that says why).
OPEN_TO_EVERYONE |= {"team:open_link", "team:join"}
# Single sign-on (accounts.sso): the names allauth reverses for the login page, its pages for a sign-in
# that was cancelled or failed or needs one more field, and the provider's login and callback.
OPEN_TO_EVERYONE |= {"account_login", "account_signup", "account_inactive", "socialaccount_login_cancelled"}
# ... and those that answer a stranger with no sign-in under way: the provider's login and callback for a
# provider that does not exist (the example path's) are 404, the extra sign-up step goes back to the login,
# and the page of a failed sign-in says so with 401.
SSO_WITHOUT_SIGN_IN = {"openid_connect_login": 404, "openid_connect_callback": 404, "socialaccount_signup": 302,
                       "socialaccount_login_error": 401}
ADMIN_LOGIN = "/admin/login/"
# Runware's protocol for members' scripts (/v1) and its results' signed URLs: no login page, no
# session, no CSRF token; each carries its own credential (a personal key, a signature), and without
# it a stranger gets Runware's 401 or a 404, never data. A session cookie grants nothing there.
OWN_CREDENTIAL = {"endpoint_api:rest": 401, "endpoint_api:media": 404}
# The icon browsers ask for unasked: a redirect to the static favicon.svg, for everyone (a 404 there is a
# console error on every visit), and nothing else.
TO_STATIC = {"favicon"}


def example_paths() -> dict[str, str]:
    """Every URL pattern of the portal, as a concrete path: {pattern: path}."""
    found: dict[str, str] = {}

    def fill(pattern) -> str:
        if isinstance(pattern, RegexPattern):  # the admin's: a group of alternatives takes the first
            route = re.sub(r"\(\?P<\w+>([\w-]+)(\|[^)]*)?\)", r"\1", str(pattern))
            return re.sub(r"\(\?P<\w+>\.\*\)", "no-such-page/", route).strip("^$")
        route = str(pattern)
        for converter, value in (("uuid", str(uuid.uuid4())), ("int", "1"), ("path", "1"), ("str", "caption")):
            route = re.sub(rf"<{converter}:\w+>", value, route)
        return re.sub(r"<\w+>", "1", route)

    def walk(patterns: list, prefix: str, names: list[str]) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + fill(pattern.pattern),
                     [*names, pattern.namespace] if pattern.namespace else names)
                continue
            assert isinstance(pattern, URLPattern)
            key = f"{':'.join([*names, pattern.name or ''])} {prefix}{pattern.pattern}"
            found[key] = "/" + prefix + fill(pattern.pattern)

    walk(get_resolver().url_patterns, "", [])
    return found


PATHS = example_paths()


def test_every_url_has_an_example_path():
    assert len(PATHS) > 40  # the walk found the whole portal, admin included
    assert all(path.startswith("/") and "<" not in path for path in PATHS.values())


@pytest.mark.django_db
@pytest.mark.parametrize("key", sorted(PATHS))
def test_every_url_requires_login(client, key):
    name, path = key.split(" ")[0], PATHS[key]
    for method in ("get", "post"):
        response = getattr(client, method)(path)
        if name in OWN_CREDENTIAL:
            assert response.status_code in {OWN_CREDENTIAL[name], 405}, f"{method} {path}"
            continue
        if name in SSO_WITHOUT_SIGN_IN:
            assert response.status_code in {SSO_WITHOUT_SIGN_IN[name], 405}, f"{method} {path}"
            assert not response.has_header("Location") or response["Location"] == resolve_url(settings.LOGIN_URL)
            continue
        if name in OPEN_TO_EVERYONE:
            assert response.status_code in {200, 405}, f"{method} {path}"
            continue
        if name in TO_STATIC:
            assert response.status_code in {302, 405}, f"{method} {path}"
            assert response.status_code == 405 or response["Location"].startswith(settings.STATIC_URL)
            continue
        logins = (resolve_url(settings.LOGIN_URL), ADMIN_LOGIN) if path.startswith("/admin/") else (
            resolve_url(settings.LOGIN_URL),)
        assert response.status_code == 302, f"{method.upper()} {path} answered {response.status_code} to a stranger"
        assert response["Location"].startswith(logins), f"{method.upper()} {path} → {response['Location']}"


def test_only_the_login_page_and_the_health_check_are_open():
    open_views = sorted(
        key.split(" ")[0] for key in PATHS
        if getattr(get_resolver().resolve(PATHS[key]).func, "login_required", True) is False
    )
    assert set(open_views) == OPEN_TO_EVERYONE | set(OWN_CREDENTIAL) | set(SSO_WITHOUT_SIGN_IN) | TO_STATIC


@pytest.mark.django_db
@pytest.mark.parametrize("key", sorted(PATHS))
def test_a_post_without_the_csrf_token_is_refused(key):
    """Logged in as staff (so staff pages are reached), with the session cookie a forged form
    would carry along: every POST without the token is 403, whatever the view."""
    path = PATHS[key]
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(make_user("sam", is_staff=True, is_superuser=True))
    response = browser.post(path, {"value": "1", "title": "forged", "content": "forged"})
    if key.split(" ")[0] in OWN_CREDENTIAL:  # the staff member's cookie counts for nothing there
        assert response.status_code in {OWN_CREDENTIAL[key.split(" ")[0]], 405}, f"POST {path}"
        return
    assert response.status_code == 403, f"POST {path} without a CSRF token answered {response.status_code}"


@pytest.mark.django_db
def test_the_same_post_with_the_token_goes_through(user):
    """The control for the test above: the 403 is the missing token, not the form."""
    image = make_image(user)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    page = browser.get(reverse("gallery:detail", args=[image.pk]))
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)

    forged = browser.post(reverse("gallery:favourite", args=[image.pk]), {"value": "1"})
    assert forged.status_code == 403
    assert not Image.objects.get(pk=image.pk).favourite

    real = browser.post(reverse("gallery:favourite", args=[image.pk]), {"value": "1", "csrfmiddlewaretoken": token})
    assert real.status_code == 302
    assert Image.objects.get(pk=image.pk).favourite


SOCKETS = ["/ws/studio/", "/ws/chat/", "/ws/tools/", "/ws/spend/"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", SOCKETS)
@pytest.mark.parametrize("origin", ["https://evil.example", "http://testserver.evil.example", "null", None])
async def test_a_cross_site_socket_is_refused_on_every_route(staff_user, path, origin):
    ws = await member_socket(staff_user, path, origin=origin)
    accepted, _ = await ws.connect(timeout=10)
    assert not accepted
    await ws.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", SOCKETS)
async def test_our_origin_lets_staff_in_on_every_route(staff_user, path, upstream):
    """The control for the test above."""
    ws = await member_socket(staff_user, path)
    accepted, _ = await ws.connect(timeout=10)
    assert accepted
    await ws.disconnect()
