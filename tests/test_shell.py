"""Every page needs a login; the shell shows the right navigation to members and staff."""

from __future__ import annotations

import pytest
from django.urls import reverse

PAGES = ["/", "/studio/", "/gallery/", "/history/", "/models/", "/chat/", "/tools/", "/spend/", "/account/usage/"]


@pytest.mark.django_db
@pytest.mark.parametrize("url", PAGES)
def test_anonymous_visitors_are_sent_to_the_login_page(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


@pytest.mark.django_db
def test_admin_needs_a_staff_login(client):
    response = client.get("/admin/")
    assert response.status_code == 302
    assert "login" in response["Location"]


def test_home_goes_to_the_studio(alice_client):
    response = alice_client.get("/")
    assert response.status_code == 302
    assert response["Location"] == reverse("studio:index")


def test_a_member_sees_the_navigation_but_not_staff_pages(alice_client):
    html = alice_client.get("/gallery/").content.decode()
    for label, url in [("Studio", "/studio/"), ("Gallery", "/gallery/"), ("Models", "/models/"), ("Chat", "/chat/"),
                       ("Tools", "/tools/")]:
        assert f'href="{url}"' in html and f">{label}</a>" in html
    assert "/spend/" not in html and "/admin/" not in html
    assert "Offline simulator" in html
    assert "alice" in html


def test_staff_also_see_spend_and_admin(client, staff_user):
    client.force_login(staff_user)
    html = client.get("/gallery/").content.decode()
    assert 'href="/spend/"' in html and 'href="/admin/"' in html


def test_the_login_page_has_labelled_fields(client, db):
    html = client.get("/accounts/login/").content.decode()
    assert '<label for="id_username">Username</label>' in html
    assert '<label for="id_password">Password</label>' in html


def test_health_needs_no_login(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json()["status"] == "ok"


def test_logout_is_a_post_and_ends_the_session(alice_client):
    assert alice_client.get("/accounts/logout/").status_code == 405
    alice_client.post("/accounts/logout/")
    assert alice_client.get("/studio/").status_code == 302


def test_the_api_key_never_reaches_a_page(alice_client, settings):
    for url in ["/studio/", "/gallery/", "/models/", "/chat/", "/tools/"]:
        assert settings.RUNWARE_API_KEY not in alice_client.get(url).content.decode()
