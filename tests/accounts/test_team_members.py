"""The team's members page: a team admin sets roles and budgets in their team; staff in every team."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from runware_web.accounts.models import AuditEntry, Role, Team
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_team_admin_sees_their_team_and_its_members_with_their_spend(team, user):
    tess = make_user("tess", team=team, role=Role.TEAM_ADMIN)
    make_user("mallory", team=Team.objects.create(name="Night shift"))
    page = client_for(tess).get(reverse("team:members")).content.decode()
    assert "Role of alice" in page and "Role of tess" in page and "Monthly budget of Pixels (USD)" in page
    assert "mallory" not in page and "Night shift" not in page
    assert "Spent this month: $0.00" in page


def test_staff_see_every_team(staff_user, team, user):
    make_user("mallory", team=Team.objects.create(name="Night shift"))
    page = client_for(staff_user).get(reverse("team:members")).content.decode()
    assert "Role of alice" in page and "Role of mallory" in page


def test_a_team_admin_cannot_change_their_own_role_and_is_told_next_to_the_field(team):
    tess = make_user("tess", team=team, role=Role.TEAM_ADMIN)
    response = client_for(tess).post(reverse("team:member", args=[tess.pk]),
                                     {"role": Role.MEMBER, "monthly_budget": "7"})
    page = response.content.decode()
    assert response.status_code == 400
    assert f'id="id_member_{tess.pk}_role_error"' in page and "cannot change your own role" in page
    assert f'id="id_member_{tess.pk}_monthly_budget"' in page and 'value="7"' in page  # what was typed is kept
    tess.refresh_from_db()
    assert (tess.role, tess.monthly_budget) == (Role.TEAM_ADMIN, None)
    assert not AuditEntry.objects.exists()


def test_over_htmx_only_the_members_row_comes_back(team, user):
    tess = make_user("tess", team=team, role=Role.TEAM_ADMIN)
    response = client_for(tess).post(reverse("team:member", args=[user.pk]),
                                     {"role": Role.MEMBER, "monthly_budget": "4.25"}, HTTP_HX_REQUEST="true")
    page = response.content.decode()
    assert response.status_code == 200
    assert page.lstrip().startswith(f'<li class="card" id="member-{user.pk}">')
    assert "Saved alice." in page and 'value="4.25"' in page
    user.refresh_from_db()
    assert user.monthly_budget == Decimal("4.25")
