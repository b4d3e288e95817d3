"""Adding roles and invitations to an installation loses nothing: every account becomes a member."""

from __future__ import annotations

import pytest
from django.contrib.auth.hashers import make_password
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from runware_web.accounts.models import Invitation, Role, User

BEFORE_ROLES = [("accounts", "0001_initial")]


def migrate(targets) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor


@pytest.mark.django_db(transaction=True)
def test_existing_accounts_become_members_of_the_teams_they_were_in():
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    try:
        old = migrate(BEFORE_ROLES).loader.project_state(BEFORE_ROLES).apps
        team = old.get_model("accounts", "Team").objects.create(name="Pixels", monthly_budget="25.0000")
        OldUser = old.get_model("accounts", "User")
        OldUser.objects.create(username="alice", password=make_password("correct horse battery"), team=team,
                               email="alice@example.com", monthly_budget="5.0000")
        OldUser.objects.create(username="sam", password=make_password("staff pass"), is_staff=True)
    finally:
        migrate(latest)

    alice, sam = User.objects.get(username="alice"), User.objects.get(username="sam")
    assert (alice.role, alice.team.name, str(alice.monthly_budget), alice.email) == (
        Role.MEMBER, "Pixels", "5.0000", "alice@example.com")
    assert alice.check_password("correct horse battery")
    assert (sam.role, sam.is_staff) == (Role.MEMBER, True)
    assert not alice.is_team_admin and sam.manages(alice.team)
    assert Invitation.objects.count() == 0
