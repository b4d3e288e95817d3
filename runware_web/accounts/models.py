from __future__ import annotations

import hashlib

from django.contrib.auth.models import AbstractUser
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone

_money = {"max_digits": 14, "decimal_places": 4, "validators": [MinValueValidator(0)]}


class Team(models.Model):
    """A group of members who share a budget and a team gallery."""

    name = models.CharField(max_length=100, unique=True)
    monthly_budget = models.DecimalField(
        **_money, null=True, blank=True, help_text="US dollars per calendar month; empty means no limit."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    """What a member may do in their team; staff (`is_staff`) see and manage every team."""

    MEMBER = "member", "Member"
    TEAM_ADMIN = "team_admin", "Team admin"


class User(AbstractUser):
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="members")
    role = models.CharField(
        max_length=20, choices=Role.choices, default=Role.MEMBER,
        help_text="A team admin manages their own team's invitations; staff manage every team.",
    )
    monthly_budget = models.DecimalField(
        **_money, null=True, blank=True, help_text="US dollars per calendar month; empty means no limit."
    )

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.username

    @property
    def is_team_admin(self) -> bool:
        return self.role == Role.TEAM_ADMIN and self.team_id is not None

    def manages(self, team: Team) -> bool:
        """Staff manage every team; a team admin only their own."""
        return self.is_staff or (self.is_team_admin and self.team_id == team.pk)

    def managed_teams(self) -> models.QuerySet[Team]:
        if self.is_staff:
            return Team.objects.all()
        return Team.objects.filter(pk=self.team_id) if self.is_team_admin else Team.objects.none()


class Invitation(models.Model):
    """A link that lets one person make an account in a team, with a preset role, until it expires.

    Only a hash of the link's token is stored: the link is shown (and mailed) once, when it is made,
    and neither the database nor a log line can give it back.
    """

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="invitations")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.MEMBER)
    email = models.EmailField(blank=True, help_text="Where the link was sent, if it was.")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        USED = "used", "Used"
        REVOKED = "revoked", "Withdrawn"
        EXPIRED = "expired", "Expired"

    def __str__(self) -> str:
        return f"Invitation to {self.team} ({self.get_role_display()})"

    @property
    def status(self) -> str:
        if self.accepted_at is not None:
            return self.Status.USED
        if self.revoked_at is not None:
            return self.Status.REVOKED
        if self.expires_at <= timezone.now():
            return self.Status.EXPIRED
        return self.Status.OPEN

    def get_status_display(self) -> str:
        return self.Status(self.status).label


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
