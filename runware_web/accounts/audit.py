"""The audit log: who changed what, from which value to which, when and from which address.

Every place that changes a role, a team, a budget, a period, a model rule, a team's alert webhook,
an invitation, sharing, the trash or a password calls `record` itself, right where the change is
made (in the same transaction where there is one), so the log says what the person did, not what a
signal guessed.
Failed and locked logins come from Django's and django-axes' signals (`on_login_failed`,
`on_locked_out`, connected in `AccountsConfig.ready`).

Entries are append-only: `AuditEntry` refuses to be saved twice or deleted, its queryset refuses
bulk updates and deletes, its admin is read-only, and on PostgreSQL a trigger refuses UPDATE and
DELETE. The address is REMOTE_ADDR (Daphne's --proxy-headers sets it from the reverse proxy).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from django.db.models import Model
from django.http import HttpRequest

from runware_web.accounts.models import AuditEntry, Team, User, shortened_url

Action = AuditEntry.Action

#: Which audited action a change of each field of a member or a team is.
FIELD_ACTIONS = {
    "role": Action.ROLE,
    "team": Action.TEAM,
    "monthly_budget": Action.BUDGET,
    "budget_period": Action.PERIOD,
    "allowed_models": Action.MODEL_RULE,
    "max_task_cost": Action.MODEL_RULE,
    "alert_webhook_url": Action.ALERT_WEBHOOK,
}


def address_of(request: HttpRequest | None) -> str | None:
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def address_of_scope(scope: Mapping[str, Any]) -> str | None:
    """The address of a socket's client (ASGI scope), as `address_of` gives a request's."""
    client = scope.get("client")
    return client[0] if client else None


def record(
    action: str,
    *,
    by: User | None,
    team: Team | int | None = None,
    target: str = "",
    before: Any = "",
    after: Any = "",
    address: str | None = None,
    by_name: str | None = None,
) -> AuditEntry:
    """Add one entry. `by` is None for the portal itself (an expiry, a failed login of nobody);
    `team` is the team the change concerns (whose admins see it); before and after are shown as text."""
    team_obj = team if isinstance(team, Team) else None
    team_id = team.pk if isinstance(team, Team) else team
    if team_obj is None and team_id is not None:
        team_obj = Team.objects.filter(pk=team_id).first()
    return AuditEntry.objects.create(
        action=Action(action),
        actor=by if by is not None and by.pk else None,
        actor_name=(by_name if by_name is not None else (by.get_username() if by else ""))[:150],
        team_id=team_id,
        team_name=team_obj.name if team_obj else "",
        target=target[:300],
        before=as_text(before),
        after=as_text(after),
        address=address,
    )


def as_text(value: Any) -> str:
    """How a value before or after a change is shown: money as dollars, nothing as 'none'."""
    if value is None:
        return "none"
    if isinstance(value, Decimal):
        return f"${value:,.2f}" if value == value.quantize(Decimal("0.01")) else f"${value:,.4f}"
    if isinstance(value, Model):
        return str(value)
    return str(value)


def snapshot(obj: User | Team, fields: Iterable[str] = FIELD_ACTIONS) -> dict[str, Any]:
    """The audited fields' values now, to compare with after a save (`record_changes`)."""
    return {name: _value(obj, name) for name in fields if _has_field(obj, name)}


def record_changes(
    before: Mapping[str, Any], obj: User | Team, *, by: User | None, address: str | None = None,
) -> list[AuditEntry]:
    """One entry per audited field of `obj` whose value differs from `before` (a `snapshot`)."""
    entries = []
    for name, old in before.items():
        new = _value(obj, name)
        if new == old:
            continue
        entries.append(record(
            FIELD_ACTIONS[name], by=by, team=_team_of(obj, name, old), target=describe(obj),
            before=_shown(obj, name, old), after=_shown(obj, name, new), address=address,
        ))
    return entries


def describe(obj: User | Team) -> str:
    return f"team {obj.name}" if isinstance(obj, Team) else f"member {obj.get_username()}"


def _has_field(obj: Model, name: str) -> bool:
    return any(field.name == name for field in obj._meta.concrete_fields)


def _value(obj: Model, name: str) -> Any:
    field = obj._meta.get_field(name)
    return getattr(obj, field.attname)


def _shown(obj: Model, name: str, value: Any) -> Any:
    """A team by its name rather than its id; a choice by its label; a webhook shortened (its path is a secret)."""
    if name == "team":
        return Team.objects.filter(pk=value).values_list("name", flat=True).first() if value else None
    if name == "alert_webhook_url":
        return shortened_url(value) if value else None
    field = obj._meta.get_field(name)
    choices = dict(field.flatchoices) if field.choices else {}
    return choices.get(value, value)


def _team_of(obj: User | Team, name: str, old: Any) -> int | None:
    """The team whose admins see the entry: the member's team, or the team it left (a move out)."""
    if isinstance(obj, Team):
        return obj.pk
    return obj.team_id if obj.team_id is not None else (old if name == "team" else None)


def visible_to(user: User):
    """The entries a person may read: staff all, a team admin their team's, anyone else none."""
    if user.is_staff:
        return AuditEntry.objects.all()
    if user.is_team_admin:
        return AuditEntry.objects.filter(team_id=user.team_id)
    return AuditEntry.objects.none()


# ---------------------------------------------------------------------- login signals


def on_login_failed(sender: Any, credentials: Mapping[str, Any], request: HttpRequest | None = None,
                    **kwargs: Any) -> None:
    """Django's user_login_failed: the username typed (never the password) and the address."""
    typed = str(credentials.get("username", ""))
    member = User.objects.filter(username=typed).only("pk", "username", "team_id").first() if typed else None
    record(Action.LOGIN_FAILED, by=member, by_name=typed, team=member.team_id if member else None,
           target=f"login as {typed}" if typed else "login", address=address_of(request))


def on_locked_out(sender: Any, request: HttpRequest | None = None, username: str | None = None,
                  ip_address: str | None = None, **kwargs: Any) -> None:
    """django-axes' user_locked_out: logging in as this username from this address is now locked."""
    typed = username or ""
    member = User.objects.filter(username=typed).only("pk", "username", "team_id").first() if typed else None
    record(Action.LOGIN_LOCKED, by=member, by_name=typed, team=member.team_id if member else None,
           target=f"login as {typed}" if typed else "login", address=ip_address or address_of(request))
