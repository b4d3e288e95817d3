"""The spend page, its export and its forms are for staff only; members see only their own usage."""

from __future__ import annotations

import pytest
from channels.testing import WebsocketCommunicator
from django.urls import reverse

from runware_web.asgi import application
from tests.spend.helpers import add_charge
from tests.test_sockets import session_cookie

STAFF_URLS = [
    ("get", "/spend/"),
    ("get", "/spend/export.csv?from=2026-01-01&to=2026-12-31"),
    ("get", "/spend/export.csv"),
    ("post", "/spend/balance/"),
]


@pytest.mark.django_db
@pytest.mark.parametrize("method, url", STAFF_URLS)
def test_a_member_gets_404_from_every_staff_url(alice_client, method, url):
    response = getattr(alice_client, method)(url)
    assert response.status_code == 404


@pytest.mark.django_db
def test_a_member_cannot_change_budgets(alice_client, user, team):
    assert alice_client.post(f"/spend/budgets/member/{user.pk}/", {"monthly_budget": "999"}).status_code == 404
    assert alice_client.post(f"/spend/budgets/team/{team.pk}/", {"monthly_budget": "999"}).status_code == 404
    user.refresh_from_db()
    team.refresh_from_db()
    assert user.monthly_budget is None and team.monthly_budget is None


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/spend/", "/spend/export.csv", "/account/usage/"])
def test_anonymous_visitors_are_sent_to_log_in(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.django_db
def test_staff_see_the_spend_page_and_the_export(client, staff_user):
    client.force_login(staff_user)
    assert client.get("/spend/").status_code == 200
    assert client.get("/spend/export.csv").status_code == 200


@pytest.mark.django_db
def test_a_members_usage_page_shows_only_their_own_charges(alice_client, user, other_user):
    add_charge(user, "0.0123")
    add_charge(other_user, "7.7777")
    page = alice_client.get("/account/usage/").content.decode()
    assert "$0.0123" in page
    assert "7.7777" not in page


@pytest.mark.django_db(transaction=True)
async def test_a_member_cannot_open_the_staff_spend_socket():
    ws = WebsocketCommunicator(application, "/ws/spend/",
                               headers=[(b"origin", b"http://testserver"), (b"cookie", (await session_cookie()).encode())])
    connected, _ = await ws.connect()
    assert not connected
    await ws.disconnect()
