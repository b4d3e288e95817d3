"""Invitations: a single-use, expiring link that makes one account in a team with a preset role.

The token exists in full only in the link (shown once to its creator, and mailed if they gave an
address); the database keeps its SHA-256. Accepting claims the invitation with one conditional
UPDATE, so two people racing with the same link cannot both get an account.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from runware_web.accounts import audit
from runware_web.accounts.models import Invitation, Role, Team, User, hash_token

#: What a person who opens a link that no longer works is told, by the invitation's status.
NOT_OPEN = {
    "unknown": "This invitation link is not valid. Check that you copied the whole link, "
               "or ask your team admin for a new one.",
    Invitation.Status.USED: "This invitation has already been used: each link makes one account. "
                            "If the account is yours, log in; otherwise ask your team admin for a new link.",
    Invitation.Status.REVOKED: "This invitation was withdrawn by the team. Ask your team admin for a new link.",
    Invitation.Status.EXPIRED: "This invitation expired on {expired}. Ask your team admin for a new link.",
}


@dataclass(frozen=True)
class Issued:
    invitation: Invitation
    token: str


@transaction.atomic
def issue(*, team: Team, role: str, by: User, days: int, email: str = "", address: str | None = None) -> Issued:
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        team=team, role=Role(role), email=email, token_hash=hash_token(token), created_by=by,
        expires_at=timezone.now() + timedelta(days=days),
    )
    audit.record(audit.Action.INVITATION_CREATED, by=by, team=team, target=_described(invitation),
                 after=f"{invitation.get_role_display()}, until {invitation.expires_at:%Y-%m-%d %H:%M %Z}",
                 address=address)
    return Issued(invitation, token)


def _described(invitation: Invitation) -> str:
    """An invitation as the log names it (never its token)."""
    sent_to = f" sent to {invitation.email}" if invitation.email else ""
    return f"invitation #{invitation.pk} to {invitation.team.name}{sent_to}"


def find(token: str) -> Invitation | None:
    return Invitation.objects.select_related("team", "created_by").filter(token_hash=hash_token(token)).first()


def why_not_open(invitation: Invitation | None) -> str | None:
    """None for an invitation that can be accepted; otherwise what to tell the person, plainly."""
    if invitation is None:
        return NOT_OPEN["unknown"]
    status = invitation.status
    if status == Invitation.Status.OPEN:
        return None
    expired = timezone.localtime(invitation.expires_at).strftime("%-d %b %Y, %H:%M %Z")
    return NOT_OPEN[status].format(expired=expired)


@transaction.atomic
def revoke(invitation: Invitation, *, by: User | None = None, address: str | None = None) -> bool:
    """Withdraw an invitation nobody has used yet; False if it was already used or withdrawn."""
    withdrawn = bool(Invitation.objects.filter(pk=invitation.pk, accepted_at__isnull=True, revoked_at__isnull=True)
                     .update(revoked_at=timezone.now()))
    if withdrawn:
        audit.record(audit.Action.INVITATION_WITHDRAWN, by=by, team=invitation.team, target=_described(invitation),
                     before="open", after="withdrawn", address=address)
    return withdrawn


class NoLongerOpen(Exception):
    """The invitation was used, withdrawn or expired between showing the form and sending it."""


@transaction.atomic
def accept(invitation: Invitation, new_user: User, *, address: str | None = None) -> User:
    """Claim the invitation and save `new_user` (unsaved, password set) in its team with its role."""
    now = timezone.now()
    claimed = Invitation.objects.filter(
        pk=invitation.pk, accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=now,
    ).update(accepted_at=now)
    if not claimed:
        raise NoLongerOpen
    new_user.team = invitation.team
    new_user.role = invitation.role
    new_user.save()
    Invitation.objects.filter(pk=invitation.pk).update(accepted_by=new_user)
    audit.record(audit.Action.INVITATION_ACCEPTED, by=new_user, team=invitation.team, target=_described(invitation),
                 before="open", after=f"used by {new_user.get_username()} ({invitation.get_role_display()})",
                 address=address)
    return new_user


def send(issued: Issued, link: str) -> None:
    """Mail the link to the address the creator gave. Raises what the mail backend raises."""
    invitation = issued.invitation
    context = {
        "invitation": invitation,
        "link": link,
        "inviter": invitation.created_by.display_name if invitation.created_by else "Your team",
        "expires": timezone.localtime(invitation.expires_at),
    }
    send_mail(
        subject=f"You are invited to {invitation.team.name} on runware-web",
        message=render_to_string("team/invitation_email.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[invitation.email],
    )
