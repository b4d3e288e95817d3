"""Members make, list and revoke their own keys; a key is shown once and stored only as a hash."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from runware_web.endpoint import keys
from runware_web.endpoint.models import ApiKey


def new_key(client, **fields) -> str:
    response = client.post(reverse("endpoint:create"), {"name": "laptop script", "budget_period": "month", **fields})
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    match = re.search(r"<code data-new-key>(rwp_[A-Za-z0-9_-]+)</code>", response.content.decode())
    assert match, "the new key is shown"
    return match.group(1)


@pytest.mark.django_db
def test_a_new_key_is_shown_once_and_only_its_hash_is_kept(alice_client, user):
    plaintext = new_key(alice_client)

    key = ApiKey.objects.get(user=user)
    assert key.digest == hashlib.sha256(plaintext.encode()).hexdigest()
    stored = [str(value) for value in ApiKey.objects.values_list(*[f.attname for f in ApiKey._meta.concrete_fields]).get()]
    assert plaintext not in stored
    page = alice_client.get(reverse("endpoint:index")).content.decode()
    assert plaintext not in page
    assert "laptop script" in page and key.prefix in page
    assert keys.authenticate(plaintext) == key


@pytest.mark.django_db
def test_a_key_with_limits_keeps_them(alice_client, user):
    new_key(alice_client, budget="2.50", budget_period="day", task_types=["imageInference"],
            models="runware:101@1, runware:100@1", expires_at="2999-01-01T00:00")
    key = ApiKey.objects.get(user=user)
    assert str(key.budget) == "2.5000000000"
    assert key.budget_period == "day"
    assert key.allowed_task_types == ["imageInference"]
    assert key.allowed_models == ["runware:101@1", "runware:100@1"]
    assert key.expires_at.year == 2999


@pytest.mark.django_db
def test_a_model_that_is_not_an_air_is_refused_with_the_reason(alice_client, user):
    response = alice_client.post(reverse("endpoint:create"), {"name": "x", "budget_period": "month", "models": "flux dev"})
    assert response.status_code == 400
    assert "Not an AIR identifier: flux dev" in response.content.decode()
    assert not ApiKey.objects.exists()


@pytest.mark.django_db
def test_a_member_revokes_their_key_and_it_stops_working(alice_client, user):
    plaintext = new_key(alice_client)
    key = ApiKey.objects.get(user=user)
    response = alice_client.post(reverse("endpoint:revoke", args=[key.pk]))
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None and key.revoked_by == user
    assert keys.authenticate(plaintext) is None
    assert "Revoked" in alice_client.get(reverse("endpoint:index")).content.decode()


@pytest.mark.django_db
def test_staff_revoke_anyones_key_and_members_cannot(client, user, other_user, staff_user):
    key, plaintext = keys.create_key(other_user, name="mallory's script")
    client.force_login(user)
    assert client.post(reverse("endpoint:revoke", args=[key.pk])).status_code == 404
    assert keys.authenticate(plaintext) == key
    client.force_login(staff_user)
    assert client.post(reverse("endpoint:revoke", args=[key.pk])).status_code == 302
    assert keys.authenticate(plaintext) is None


@pytest.mark.django_db
def test_an_expired_key_does_not_authenticate(user):
    key, plaintext = keys.create_key(user, name="old")
    ApiKey.objects.filter(pk=key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert keys.authenticate(plaintext) is None


@pytest.mark.django_db
def test_the_keys_page_is_in_the_header(alice_client):
    page = alice_client.get(reverse("studio:index")).content.decode()
    assert f'href="{reverse("endpoint:index")}"' in page
