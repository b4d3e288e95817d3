"""The audit log: each audited change leaves one entry (who, what, before, after, when, from where),
entries can never be changed or removed, and the page and its CSV show staff everything and a team
admin their own team's."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from runware_web.accounts import audit
from runware_web.accounts.models import AppendOnly, AuditEntry, Invitation, Role, Team
from tests.accounts.conftest import link_in
from tests.accounts.test_passwords import request_reset, set_password_through
from tests.conftest import make_user
from tests.hardening.helpers import make_image

pytestmark = pytest.mark.django_db

ADDRESS = "198.51.100.23"
Action = AuditEntry.Action


def client_for(user, address: str = ADDRESS) -> Client:
    client = Client(REMOTE_ADDR=address)
    client.force_login(user)
    return client


@pytest.fixture
def tess(team):
    """Alice's team admin."""
    return make_user("tess", team=team, role=Role.TEAM_ADMIN, email="tess@example.com")


def only(action: str) -> AuditEntry:
    entries = list(AuditEntry.objects.filter(action=action))
    assert len(entries) == 1, [str(e) for e in entries]
    return entries[0]


# ------------------------------------------------------------------------------ append-only


def test_a_saved_entry_can_be_neither_changed_nor_deleted(user):
    entry = audit.record(Action.ROLE, by=user, team=user.team, target="member alice", before="Member",
                         after="Team admin", address=ADDRESS)
    entry.after = "Member"
    with pytest.raises(AppendOnly):
        entry.save()
    with pytest.raises(AppendOnly):
        entry.delete()
    with pytest.raises(AppendOnly):
        AuditEntry.objects.filter(pk=entry.pk).update(after="Member")
    with pytest.raises(AppendOnly):
        AuditEntry.objects.all().delete()
    assert AuditEntry.objects.get(pk=entry.pk).after == "Team admin"


def test_deleting_a_member_or_a_team_keeps_their_entries_as_they_were(user, team):
    audit.record(Action.BUDGET, by=user, team=team, target="team Pixels", before=None, after=Decimal("5"))
    user.delete()
    team.delete()
    entry = only(Action.BUDGET)
    assert (entry.actor_name, entry.team_name, entry.before, entry.after) == ("alice", "Pixels", "none", "$5.00")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger exists on PostgreSQL only")
def test_on_postgresql_the_database_itself_refuses_to_change_or_delete_an_entry(user):
    entry = audit.record(Action.ROLE, by=user, team=user.team, target="member alice", after="Team admin")
    for statement in (f"UPDATE {AuditEntry._meta.db_table} SET after = 'x' WHERE id = %s",
                      f"DELETE FROM {AuditEntry._meta.db_table} WHERE id = %s"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement, [entry.pk])
    assert AuditEntry.objects.get(pk=entry.pk).after == "Team admin"


def test_the_admin_shows_the_log_but_offers_no_way_to_add_change_or_delete(staff_user, user):
    entry = audit.record(Action.ROLE, by=user, team=user.team, target="member alice", after="Team admin")
    admin = client_for(staff_user)
    assert admin.get(reverse("admin:accounts_auditentry_changelist")).status_code == 200
    assert admin.get(reverse("admin:accounts_auditentry_add")).status_code == 403
    assert admin.get(reverse("admin:accounts_auditentry_delete", args=[entry.pk])).status_code == 403
    posted = admin.post(reverse("admin:accounts_auditentry_change", args=[entry.pk]), {"after": "Member"})
    assert posted.status_code == 403
    assert AuditEntry.objects.get(pk=entry.pk).after == "Team admin"


# ------------------------------------------------------------------------------ what is recorded


def test_a_team_admin_changing_a_members_role_and_budget_is_recorded(user, tess):
    response = client_for(tess).post(reverse("team:member", args=[user.pk]),
                                     {"role": Role.TEAM_ADMIN, "monthly_budget": "12.5"})
    assert response.status_code == 302
    role, budget = only(Action.ROLE), only(Action.BUDGET)
    assert (role.actor_name, role.target, role.before, role.after) == ("tess", "member alice", "Member", "Team admin")
    assert (budget.before, budget.after, budget.address, budget.team_id) == ("none", "$12.50", ADDRESS, user.team_id)
    assert timezone.now() - budget.at < timedelta(minutes=1)
    user.refresh_from_db()
    assert (user.role, user.monthly_budget) == (Role.TEAM_ADMIN, Decimal("12.5"))


def test_saving_a_member_unchanged_records_nothing(user, tess):
    client_for(tess).post(reverse("team:member", args=[user.pk]), {"role": Role.MEMBER, "monthly_budget": ""})
    assert not AuditEntry.objects.exists()


def test_the_teams_budget_from_the_team_page_and_from_the_spend_page_is_recorded(team, tess, staff_user):
    client_for(tess).post(reverse("team:team_budget", args=[team.pk]), {"monthly_budget": "100"})
    client_for(staff_user, "192.0.2.9").post(reverse("spend:team_budget", args=[team.pk]), {"monthly_budget": "80"})
    first, second = AuditEntry.objects.filter(action=Action.BUDGET).order_by("pk")
    assert (first.actor_name, first.before, first.after) == ("tess", "none", "$100.00")
    assert (second.actor_name, second.before, second.after, second.address) == ("sam", "$100.00", "$80.00",
                                                                                 "192.0.2.9")
    assert {first.target, second.target} == {"team Pixels"}


def test_changes_made_in_djangos_admin_are_recorded(staff_user, user):
    other = Team.objects.create(name="Night shift")
    admin = client_for(staff_user)
    page = admin.get(reverse("admin:accounts_user_change", args=[user.pk]))
    data = {key: value for key, value in page.context["adminform"].form.initial.items() if value is not None}
    data.update({"username": "alice", "team": other.pk, "role": Role.TEAM_ADMIN, "monthly_budget": "3",
                 "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00"})
    data.pop("password", None)
    data.pop("groups", None)
    data.pop("user_permissions", None)
    data.pop("last_login", None)
    response = admin.post(reverse("admin:accounts_user_change", args=[user.pk]), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    moved = only(Action.TEAM)
    assert (moved.before, moved.after, moved.team_id) == ("Pixels", "Night shift", other.pk)
    assert only(Action.ROLE).after == "Team admin"
    assert only(Action.BUDGET).after == "$3.00"


def test_invitations_made_withdrawn_and_accepted_are_recorded(team, tess):
    client = client_for(tess)
    client.post(reverse("team:invitations"), {"team": team.pk, "role": Role.MEMBER, "days": 7})
    first = Invitation.objects.get()
    client.post(reverse("team:revoke_invitation", args=[first.pk]))
    made = client.post(reverse("team:invitations"), {"team": team.pk, "role": Role.MEMBER, "days": 7})
    link = made.context["link"]

    joining = Client(REMOTE_ADDR="203.0.113.50")
    joining.get(link)
    joining.post(reverse("team:join"), {"username": "newbie", "email": "", "password1": "a fine long passphrase 9",
                                        "password2": "a fine long passphrase 9"})

    created = AuditEntry.objects.filter(action=Action.INVITATION_CREATED)
    assert created.count() == 2 and {e.actor_name for e in created} == {"tess"}
    withdrawn, accepted = only(Action.INVITATION_WITHDRAWN), only(Action.INVITATION_ACCEPTED)
    assert (withdrawn.actor_name, withdrawn.before, withdrawn.after) == ("tess", "open", "withdrawn")
    assert (accepted.actor_name, accepted.address, accepted.team_id) == ("newbie", "203.0.113.50", team.pk)
    token = link.rstrip("/").rsplit("/", 1)[-1]
    assert not AuditEntry.objects.filter(target__contains=token).exists()  # tokens never reach the log


def test_sharing_deleting_and_emptying_the_trash_are_recorded(user):
    image, other = make_image(user), make_image(user)
    client = client_for(user)
    client.post(reverse("gallery:share", args=[image.pk]), {"value": "1"})
    client.post(reverse("gallery:selection"), {"ids": [image.pk, other.pk], "action": "unshare"})
    client.post(reverse("gallery:delete", args=[image.pk]))
    client.post(reverse("gallery:selection"), {"ids": [other.pk], "action": "delete"})
    client.post(reverse("gallery:empty_trash"), {"confirm": "yes"})

    shared, unshared = only(Action.SHARED), only(Action.UNSHARED)
    assert shared.target == f"image {str(image.pk)[:8]}" and shared.after == "shared with the team"
    assert unshared.target == f"image {str(image.pk)[:8]}"  # only the one that was shared changed
    assert AuditEntry.objects.filter(action=Action.DELETED).count() == 2
    emptied = only(Action.TRASH_EMPTIED)
    assert (emptied.actor_name, emptied.target, emptied.team_id) == ("alice", "2 images in the trash", user.team_id)


def test_a_password_change_and_a_reset_are_recorded_without_the_passwords(user, mailbox):
    client = client_for(user)
    changed = client.post(reverse("password_change"), {
        "old_password": "correct horse battery", "new_password1": "another long passphrase 7",
        "new_password2": "another long passphrase 7"})
    assert changed.status_code == 302
    request_reset(Client(), "alice@example.com")
    set_password_through(Client(REMOTE_ADDR="203.0.113.77"), link_in(mailbox.wait_for("alice@example.com")))

    change, reset = only(Action.PASSWORD_CHANGED), only(Action.PASSWORD_RESET)
    assert (change.actor_name, change.address) == ("alice", ADDRESS)
    assert (reset.actor_name, reset.address, reset.team_id) == ("alice", "203.0.113.77", user.team_id)
    texts = " ".join(f"{e.target} {e.before} {e.after}" for e in AuditEntry.objects.all())
    assert "passphrase" not in texts


def test_failed_and_locked_logins_are_recorded_with_the_name_typed_and_the_address(user):
    stranger = Client(REMOTE_ADDR="203.0.113.66")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        stranger.post(reverse("login"), {"username": "alice", "password": "wrong guess"})
    stranger.post(reverse("login"), {"username": "nobody-here", "password": "wrong guess"})

    failed = AuditEntry.objects.filter(action=Action.LOGIN_FAILED)
    assert failed.filter(actor_name="alice", address="203.0.113.66", team_id=user.team_id).count() == \
        settings.AXES_FAILURE_LIMIT
    assert failed.filter(actor_name="nobody-here", actor__isnull=True, team__isnull=True).count() == 1
    locked = only(Action.LOGIN_LOCKED)
    assert (locked.actor_name, locked.address, locked.team_id) == ("alice", "203.0.113.66", user.team_id)
    assert "wrong guess" not in " ".join(f"{e.target} {e.before} {e.after}" for e in failed)


# ------------------------------------------------------------------------------ the page and the CSV


def some_entries(team: Team, other_team: Team, alice, tess):
    audit.record(Action.ROLE, by=tess, team=team, target="member alice", before="Member", after="Team admin",
                 address=ADDRESS)
    audit.record(Action.BUDGET, by=tess, team=team, target="member alice", before=None, after=Decimal("2"))
    audit.record(Action.SHARED, by=alice, team=team, target="image 1234abcd", before="private",
                 after="shared with the team")
    audit.record(Action.BUDGET, by=None, team=other_team, target="team Night shift", before=None,
                 after=Decimal("9"))


def rows_of(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_staff_see_every_teams_entries_and_can_filter_by_team(staff_user, team, user, tess):
    night = Team.objects.create(name="Night shift")
    some_entries(team, night, user, tess)
    admin = client_for(staff_user)
    page = admin.get(reverse("team:audit")).content.decode()
    assert "team Night shift" in page and "image 1234abcd" in page
    assert len(rows_of(admin.get(reverse("team:audit_csv")))) == 1 + 4
    only_night = rows_of(admin.get(reverse("team:audit_csv"), {"team": night.pk}))
    assert [row[3] for row in only_night[1:]] == ["team Night shift"]


def test_a_team_admin_filters_their_teams_entries_by_who_what_and_date(team, user, tess):
    some_entries(team, Team.objects.create(name="Night shift"), user, tess)
    client = client_for(tess)
    everything = client.get(reverse("team:audit")).content.decode()
    assert "Night shift" not in everything and "image 1234abcd" in everything

    by_alice = rows_of(client.get(reverse("team:audit_csv"), {"who": "alice"}))
    budgets = rows_of(client.get(reverse("team:audit_csv"), {"action": "budget"}))
    today = timezone.localdate()
    tomorrow = rows_of(client.get(reverse("team:audit_csv"), {"start": today + timedelta(days=1)}))
    till_today = rows_of(client.get(reverse("team:audit_csv"), {"start": today, "end": today}))

    assert by_alice[0] == ["when (UTC)", "who", "what", "concerning", "before", "after", "team", "address"]
    assert [(r[1], r[2], r[3]) for r in by_alice[1:]] == [("alice", "Shared with the team", "image 1234abcd")]
    assert [(r[4], r[5]) for r in budgets[1:]] == [("none", "$2.00")]
    assert len(tomorrow) == 1 and len(till_today) == 1 + 3


def test_dates_in_the_wrong_order_are_shown_next_to_the_field_and_kept(team, tess):
    response = client_for(tess).get(reverse("team:audit"), {"who": "alice", "start": "2026-05-02",
                                                            "end": "2026-05-01"})
    page = response.content.decode()
    assert response.status_code == 400
    assert 'id="id_end_error"' in page and "The last day comes before the first" in page
    assert 'value="alice"' in page and 'value="2026-05-02"' in page
    assert client_for(tess).get(reverse("team:audit_csv"), {"start": "2026-05-02", "end": "2026-05-01"}).status_code \
        == 400


def test_a_cell_a_spreadsheet_would_run_is_quoted(team, tess):
    audit.record(Action.LOGIN_FAILED, by=None, by_name="=HYPERLINK(\"http://x\")", team=team, target="login")
    rows = rows_of(client_for(tess).get(reverse("team:audit_csv")))
    assert rows[1][1].startswith("'=")


def test_older_entries_are_a_page_further(team, tess, monkeypatch):
    monkeypatch.setattr("runware_web.team.audit_views.PAGE_SIZE", 3)
    for n in range(5):
        audit.record(Action.BUDGET, by=tess, team=team, target=f"member m{n}", after=Decimal(n))
    client = client_for(tess)
    first = client.get(reverse("team:audit"))
    older = first.context["older"]
    second = client.get(reverse("team:audit"), {"before": older})
    assert [e.target for e in first.context["entries"]] == ["member m4", "member m3", "member m2"]
    assert [e.target for e in second.context["entries"]] == ["member m1", "member m0"]
    assert second.context["older"] is None


def test_staff_setting_a_password_or_making_a_member_in_the_admin_is_recorded(staff_user, team, user):
    admin = client_for(staff_user)
    url = reverse("admin:auth_user_password_change", args=[user.pk])
    response = admin.post(url, {"password1": "staff chose this one 42", "password2": "staff chose this one 42",
                                "usable_password": "true"})
    assert response.status_code == 302
    changed = only(Action.PASSWORD_CHANGED)
    assert (changed.actor_name, changed.target, changed.after) == ("sam", "password of alice",
                                                                    "set by staff in the admin")

    made = admin.post(reverse("admin:accounts_user_add"), {
        "username": "bob", "password1": "a fine long passphrase 9", "password2": "a fine long passphrase 9",
        "usable_password": "true"})
    assert made.status_code == 302
    assert not AuditEntry.objects.filter(target="member bob").exists()  # no team, role member, no budget: nothing
