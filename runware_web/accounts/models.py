from __future__ import annotations

import hashlib
from typing import Any

from django.contrib.auth.models import AbstractUser
from django.core.validators import MinValueValidator, URLValidator
from django.db import models
from django.utils import timezone

_money = {"max_digits": 14, "decimal_places": 4, "validators": [MinValueValidator(0)]}


class BudgetPeriod(models.TextChoices):
    """How long a budget lasts before it starts again: a local day, a week from Monday, a calendar month."""

    DAY = "day", "Day"
    WEEK = "week", "Week"
    MONTH = "month", "Month"


def _period_field() -> models.CharField:
    return models.CharField(
        max_length=5, choices=BudgetPeriod.choices, default=BudgetPeriod.MONTH,
        help_text="The budget starts again each day, each week (from Monday) or each calendar month.",
    )


def model_rule_entries(text: str) -> list[str]:
    """The allow-list as typed (one model or family a line, or separated by commas), cleaned."""
    entries = (entry.strip() for entry in text.replace(",", "\n").splitlines())
    return list(dict.fromkeys(entry for entry in entries if entry))


def rule_allows(entry: str, model: str) -> bool:
    """One allow-list entry: an exact AIR ("runware:101@1"), a family ending in ':' or '@'
    ("runware:", "civitai:4384@"), or a bare source ("civitai", read as "civitai:")."""
    entry, model = entry.lower(), model.lower()
    if ":" not in entry:
        entry += ":"
    return model == entry or (entry[-1] in ":@" and model.startswith(entry))


def allowed_model_choices(user: Any, choices: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    """The (AIR, label) choices of a model picker that the member's team's model rules allow
    (every one when the team has no allow-list, or the member no team)."""
    team = user.team if user is not None and getattr(user, "team_id", None) else None
    return [choice for choice in choices if team is None or team.allows_model(choice[0])]


def shortened_url(url: str) -> str:
    """A webhook's address as pages, logs and the audit log show it: its host and the last four
    characters of its path (the path of a Slack webhook is its secret)."""
    scheme, _, rest = url.partition("://")
    host, _, path = rest.partition("/")
    if not path:
        return url
    tail = path[-4:] if len(path) > 8 else ""
    return f"{scheme}://{host}/…{tail}"


class Team(models.Model):
    """A group of members who share a budget and a team gallery."""

    name = models.CharField(max_length=100, unique=True)
    monthly_budget = models.DecimalField(
        **_money, null=True, blank=True, help_text="US dollars per budget period; empty means no limit."
    )
    budget_period = _period_field()
    allowed_models = models.TextField(
        blank=True, help_text="Models or model families members may use, one a line (runware:, "
        "civitai:4384@, runware:101@1); empty allows every model.",
    )
    max_task_cost = models.DecimalField(
        **_money, null=True, blank=True,
        help_text="The most one task may be estimated to cost, in US dollars; empty means no cap.",
    )
    alert_webhook_url = models.CharField(  # not a URLField: only http and https, and no scheme guessed
        "alert webhook", max_length=500, blank=True, validators=[URLValidator(schemes=["http", "https"])],
        help_text="Where budget alerts are posted as Slack-compatible JSON; empty sends none.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def allowed_model_list(self) -> list[str]:
        return model_rule_entries(self.allowed_models)

    def allows_model(self, model: str) -> bool:
        """Whether the allow-list lets members use this model (no list, or no model chosen: yes)."""
        entries = self.allowed_model_list
        return not entries or not model or any(rule_allows(entry, model) for entry in entries)


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
        **_money, null=True, blank=True, help_text="US dollars per budget period; empty means no limit."
    )
    budget_period = _period_field()

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


class AuditQuerySet(models.QuerySet):
    """Audit entries are added, never changed or removed: the bulk paths refuse too."""

    def update(self, **kwargs):
        raise AppendOnly("Audit entries cannot be changed.")

    def delete(self):
        raise AppendOnly("Audit entries cannot be deleted.")

    def bulk_update(self, *args, **kwargs):
        raise AppendOnly("Audit entries cannot be changed.")

    def _raw_delete(self, using):  # what the deletion collector uses for fast deletes
        raise AppendOnly("Audit entries cannot be deleted.")


class AppendOnly(Exception):
    """Something tried to change or delete a saved audit entry."""


class AuditEntry(models.Model):
    """Who changed what, from which value to which, when and from which address: append-only.

    The member and team are kept by id without a database constraint and by name as text, so
    deleting a member or a team neither changes nor removes their entries. `team` is the team the
    change concerns, which is what a team admin's view of the log is filtered on.
    """

    class Action(models.TextChoices):
        ROLE = "role", "Role changed"
        TEAM = "team", "Team changed"
        BUDGET = "budget", "Budget changed"
        PERIOD = "period", "Budget period changed"
        MODEL_RULE = "model_rule", "Model rule changed"
        ALERT_WEBHOOK = "alert_webhook", "Alert webhook changed"
        INVITATION_CREATED = "invitation_created", "Invitation made"
        INVITATION_WITHDRAWN = "invitation_withdrawn", "Invitation withdrawn"
        INVITATION_ACCEPTED = "invitation_accepted", "Invitation accepted"
        SHARED = "shared", "Shared with the team"
        UNSHARED = "unshared", "Sharing stopped"
        DELETED = "deleted", "Moved to the trash"
        TRASH_EMPTIED = "trash_emptied", "Trash emptied"
        PASSWORD_CHANGED = "password_changed", "Password changed"
        PASSWORD_RESET = "password_reset", "Password reset"
        LOGIN_FAILED = "login_failed", "Login failed"
        LOGIN_LOCKED = "login_locked", "Login locked"

    at = models.DateTimeField(default=timezone.now, db_index=True, editable=False)
    action = models.CharField(max_length=32, choices=Action.choices, editable=False)
    actor = models.ForeignKey(User, null=True, on_delete=models.DO_NOTHING, db_constraint=False,
                              related_name="+", editable=False)
    actor_name = models.CharField("who", max_length=150, blank=True, editable=False,
                                  help_text="The username then (or the one typed, for a failed login).")
    team = models.ForeignKey(Team, null=True, on_delete=models.DO_NOTHING, db_constraint=False,
                             related_name="+", editable=False)
    team_name = models.CharField(max_length=100, blank=True, editable=False)
    target = models.CharField("what", max_length=300, blank=True, editable=False)
    before = models.TextField(blank=True, editable=False)
    after = models.TextField(blank=True, editable=False)
    address = models.GenericIPAddressField(null=True, blank=True, editable=False)

    objects = AuditQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-pk"]
        verbose_name = "audit entry"
        verbose_name_plural = "audit log"
        indexes = [models.Index(fields=["team", "-at"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_name or 'the portal'}: {self.get_action_display()}"

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise AppendOnly("Audit entries cannot be changed.")
        kwargs["force_insert"] = True  # never an UPDATE, even with a primary key given
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnly("Audit entries cannot be deleted.")
