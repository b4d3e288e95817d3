"""Staff and team admins invite people into their team; an invitee makes an account from the link."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

import pytest
from django.test import Client
from django.test.utils import override_settings
from django.urls import reverse
from django.utils import timezone

from runware_web.accounts import invitations
from runware_web.accounts.models import Invitation, Role, Team, User
from tests.accounts.conftest import body_of, free_port, link_in
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a brand new passphrase 42"
INVITE = reverse("team:invitations")


@pytest.fixture
def team_admin(team) -> User:
    return make_user("tess", team=team, role=Role.TEAM_ADMIN, email="tess@example.com")


@pytest.fixture
def tess_client(team_admin) -> Client:
    client = Client()
    client.force_login(team_admin)
    return client


def make_invitation(client: Client, team: Team, **fields) -> tuple[str, Invitation]:
    """Post the invitation form as a person would; the link shown on the page, and the invitation."""
    data = {"team": team.pk, "role": Role.MEMBER, "days": 7, "email": "", **fields}
    response = client.post(INVITE, data)
    assert response.status_code == 200, response.content.decode()[:2000]
    link = re.search(r'id="invitation-link" readonly value="([^"]+)"', response.content.decode()).group(1)
    return link, Invitation.objects.latest("pk")


def join(client: Client, link: str, username: str = "newbie", password: str = NEW_PASSWORD, **extra):
    opened = client.get(link)
    assert opened.status_code == 302 and opened["Location"] == reverse("team:join"), "the token leaves the URL"
    return client.post(reverse("team:join"), {"username": username, "email": "", "password1": password,
                                              "password2": password, **extra})


def test_a_team_admin_invites_someone_who_joins_the_team_with_the_preset_role(tess_client, team):
    link, invitation = make_invitation(tess_client, team, role=Role.TEAM_ADMIN)
    assert invitation.created_by.username == "tess"

    newcomer = Client()
    joined = join(newcomer, link)
    assert joined.status_code == 302 and joined["Location"] == reverse("studio:index")
    member = User.objects.get(username="newbie")
    assert (member.team, member.role) == (team, Role.TEAM_ADMIN)
    assert member.check_password(NEW_PASSWORD)
    page = newcomer.get(reverse("studio:index")).content.decode()
    assert "Welcome to Pixels! You joined as team admin." in page
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.USED and invitation.accepted_by == member


def test_staff_invite_to_any_team_and_the_link_arrives_by_email(client, staff_user, mailbox):
    other = Team.objects.create(name="Vectors")
    client.force_login(staff_user)
    link, invitation = make_invitation(client, other, email="new.person@example.com")

    message = mailbox.wait_for("new.person@example.com")
    assert message["Subject"] == "You are invited to Vectors on runware-web"
    assert link_in(message) == link
    assert "works once, until" in body_of(message)
    join(Client(), link)
    assert User.objects.get(username="newbie").team == other


def test_the_link_is_shown_once_and_only_its_hash_is_stored(tess_client, team):
    link, invitation = make_invitation(tess_client, team)
    token = link.rstrip("/").split("/")[-1]
    assert len(token) >= 40
    assert token not in invitation.token_hash
    assert token not in tess_client.get(INVITE).content.decode()


def test_a_team_admin_cannot_invite_to_another_team(tess_client, team):
    other = Team.objects.create(name="Vectors")
    response = tess_client.post(INVITE, {"team": other.pk, "role": Role.MEMBER, "days": 7})
    assert response.status_code == 400
    assert re.search(r'id="id_team_error">Select a valid choice', response.content.decode())
    assert not Invitation.objects.exists()


def test_the_form_keeps_what_was_typed_and_shows_errors_next_to_the_field(tess_client, team):
    response = tess_client.post(INVITE, {"team": team.pk, "role": Role.MEMBER, "days": "400", "email": "not-an-address"})
    page = response.content.decode()
    assert re.search(r'id="id_days_error">Ensure this value is less than or equal to 90', page)
    assert re.search(r'id="id_email_error">Enter a valid email address', page)
    assert 'value="not-an-address"' in page and 'value="400"' in page
    for control in ("id_team", "id_role", "id_days", "id_email"):
        assert f'<label for="{control}">' in page


def test_a_plain_member_has_no_invitations_page(alice_client):
    assert alice_client.get(INVITE).status_code == 404
    assert alice_client.post(INVITE, {}).status_code == 404
    assert 'href="/team/invitations/"' not in alice_client.get(reverse("studio:index")).content.decode()


def test_a_link_works_once(tess_client, team):
    link, _ = make_invitation(tess_client, team)
    join(Client(), link)
    again = Client().get(link)
    assert again.status_code == 200
    assert "This invitation has already been used" in again.content.decode()
    assert User.objects.filter(team=team).count() == 2  # tess and the first newcomer


def test_two_people_racing_with_one_link_get_one_account(tess_client, team):
    link, _ = make_invitation(tess_client, team)
    first, second = Client(), Client()
    first.get(link)
    second.get(link)  # both hold the form
    join_first = first.post(reverse("team:join"), {"username": "first", "password1": NEW_PASSWORD,
                                                   "password2": NEW_PASSWORD})
    join_second = second.post(reverse("team:join"), {"username": "second", "password1": NEW_PASSWORD,
                                                     "password2": NEW_PASSWORD})
    assert join_first.status_code == 302
    assert "This invitation has already been used" in join_second.content.decode()
    assert not User.objects.filter(username="second").exists()


def test_a_withdrawn_link_says_so(tess_client, team):
    link, invitation = make_invitation(tess_client, team)
    row = tess_client.post(reverse("team:revoke_invitation", args=[invitation.pk]), headers={"HX-Request": "true"})
    assert row.status_code == 200
    assert '<span class="badge">Withdrawn</span>' in row.content.decode()
    assert "Withdraw</button>" not in row.content.decode()
    opened = Client().get(link)
    assert "This invitation was withdrawn by the team" in opened.content.decode()


def test_an_expired_link_says_when_it_expired(tess_client, team):
    link, invitation = make_invitation(tess_client, team)
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    opened = Client().get(link).content.decode()
    assert re.search(r"This invitation expired on \d+ \w+ \d{4}, \d\d:\d\d UTC", opened)


def test_a_link_that_expires_while_the_form_is_open_is_refused(tess_client, team):
    link, invitation = make_invitation(tess_client, team)
    newcomer = Client()
    newcomer.get(link)
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = newcomer.post(reverse("team:join"), {"username": "late", "password1": NEW_PASSWORD,
                                                    "password2": NEW_PASSWORD})
    assert "This invitation expired" in response.content.decode()
    assert not User.objects.filter(username="late").exists()


def test_an_unknown_link_says_so(db):
    page = Client().get(reverse("team:open_link", args=["x" * 43])).content.decode()
    assert "This invitation link is not valid" in page


def test_the_join_form_keeps_what_was_typed_and_shows_errors_next_to_the_field(tess_client, team, user):
    link, _ = make_invitation(tess_client, team)
    newcomer = Client()
    taken = join(newcomer, link, username="alice")
    page = taken.content.decode()
    assert taken.status_code == 400
    assert re.search(r'id="id_username_error">A user with that username already exists', page)
    assert 'value="alice"' in page
    mismatch = newcomer.post(reverse("team:join"), {"username": "newbie", "password1": NEW_PASSWORD,
                                                    "password2": NEW_PASSWORD + "!"})
    assert re.search(r'id="id_password2_error">The two password fields didn.t match', mismatch.content.decode())
    assert 'value="newbie"' in mismatch.content.decode()
    assert join(newcomer, link).status_code == 302  # the link still works after the mistakes


def test_someone_logged_in_is_asked_to_log_out_first(tess_client, team, alice_client):
    link, _ = make_invitation(tess_client, team)
    page = alice_client.get(link, follow=True).content.decode()
    assert "You are logged in as alice" in page
    assert Invitation.objects.get().status == Invitation.Status.OPEN


def test_an_invitation_is_made_even_when_its_email_cannot_be_sent(tess_client, team):
    with override_settings(EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend", EMAIL_HOST="127.0.0.1",
                           EMAIL_PORT=free_port(), EMAIL_TIMEOUT=2):
        response = tess_client.post(INVITE, {"team": team.pk, "role": Role.MEMBER, "days": 7,
                                             "email": "new.person@example.com"})
    page = response.content.decode()
    assert "The email could not be sent" in page and "copy the link below" in page
    link = re.search(r'id="invitation-link" readonly value="([^"]+)"', page).group(1)
    assert Invitation.objects.get().status == Invitation.Status.OPEN
    assert join(Client(), link).status_code == 302


def test_the_invitation_token_never_appears_in_the_logs(tess_client, team, mailbox, caplog):
    caplog.set_level(logging.INFO)
    link, invitation = make_invitation(tess_client, team, email="new.person@example.com")
    token = link.rstrip("/").split("/")[-1]
    mailbox.wait_for("new.person@example.com")
    newcomer = Client()
    join(newcomer, link, password="short")  # refused: too short
    join(newcomer, link)
    Client().get(link)  # spent
    Client().get(link[:-4] + "abcd/")  # mangled
    logged = "\n".join(f"{r.name} {r.getMessage()}" for r in caplog.records if not r.name.startswith("mail.log"))
    assert "Bad Request: /team/join/" in logged  # the control: the portal's request log is captured
    assert token not in logged and token[:-4] not in logged


def test_revoking_is_kept_to_invitations_nobody_used(tess_client, team):
    link, invitation = make_invitation(tess_client, team)
    join(Client(), link)
    response = tess_client.post(reverse("team:revoke_invitation", args=[invitation.pk]), follow=True)
    assert "already used or withdrawn, so nothing changed" in response.content.decode()
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.USED


def test_the_service_refuses_a_second_acceptance(team, staff_user):
    issued = invitations.issue(team=team, role=Role.MEMBER, by=staff_user, days=1)
    invitations.accept(issued.invitation, User(username="one"))
    with pytest.raises(invitations.NoLongerOpen):
        invitations.accept(issued.invitation, User(username="two"))
