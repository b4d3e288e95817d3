"""With debug off, a page that is not there, not allowed or broken answers in the portal's own look,
naming no URL pattern, setting or code."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.test import RequestFactory
from django.views import defaults

SECRETS_OF_DEBUG = ["URLconf", "urlpatterns", "Traceback", "settings.py", "DEBUG"]


def test_a_member_opening_a_staff_page_gets_the_portals_not_found_page(alice_client):
    response = alice_client.get("/spend/")

    assert response.status_code == 404
    page = response.content.decode()
    assert "Page not found" in page and 'aria-label="Main"' in page and "Go to the studio" in page
    assert not [word for word in SECRETS_OF_DEBUG if word in page]


def test_a_visitor_not_logged_in_is_offered_the_login_on_a_missing_page(client, db):
    response = client.get("/accounts/no-such-page/")  # under accounts/: open without a login

    assert response.status_code == 404
    page = response.content.decode()
    assert "Page not found" in page and 'href="/accounts/login/"' in page and 'aria-label="Main"' not in page


def test_a_refusal_is_the_portals_forbidden_page(user):
    request = RequestFactory().get("/somewhere/")
    request.user = user
    request.csp_nonce = "n"  # what the CSP middleware gives every request

    response = defaults.permission_denied(request, PermissionDenied("internal reason"))

    page = response.content.decode()
    assert response.status_code == 403 and "You cannot open this page" in page and 'aria-label="Main"' in page
    assert "internal reason" not in page


def test_a_server_error_is_the_portals_error_page_without_a_request():
    response = defaults.server_error(RequestFactory().get("/"))

    page = response.content.decode()
    assert response.status_code == 500 and "Something went wrong on our side" in page
    assert "css/portal.css" in page and 'class="brand"' in page
