"""The team pages' forms: invitations, joining from a link, members' roles and budgets, model rules, the
alert webhook, the audit filters."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django import forms
from django.conf import settings
from django.contrib.auth.forms import UserCreationForm
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone

from runware_web.accounts import audit
from runware_web.accounts.models import AuditEntry, BudgetPeriod, Role, Team, User, model_rule_entries


class InvitationForm(forms.Form):
    team = forms.ModelChoiceField(label="Team", queryset=Team.objects.none(), empty_label=None)
    role = forms.ChoiceField(label="Role", choices=Role.choices, initial=Role.MEMBER,
                             help_text="A team admin can invite people to this team too.")
    days = forms.IntegerField(label="Link works for (days)", min_value=1, max_value=90)
    email = forms.EmailField(label="Send the link to (optional)", required=False,
                             help_text="Leave empty to copy the link yourself.")

    def __init__(self, *args, user: User, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = user.managed_teams()
        self.fields["days"].initial = settings.INVITATION_DEFAULT_DAYS
        if user.team_id is not None:
            self.fields["team"].initial = user.team_id


class JoinForm(UserCreationForm):
    """A username and a password (twice) for the new member; the team and role come from the invitation."""

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username", "email")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["email"].label = "Email address (optional, for password resets)"


class AuditFilterForm(forms.Form):
    """The audit page's filters: who did it, what it was, between which dates, and (staff) which team."""

    who = forms.CharField(label="Who (username)", required=False, max_length=150)
    action = forms.ChoiceField(label="What", required=False,
                               choices=[("", "Everything"), *AuditEntry.Action.choices])
    start = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    team = forms.ModelChoiceField(label="Team", required=False, queryset=Team.objects.none(),
                                  empty_label="All teams")

    def __init__(self, *args, user: User, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if user.is_staff:
            self.fields["team"].queryset = Team.objects.all()
        else:
            del self.fields["team"]  # a team admin sees their own team's entries only

    def clean(self) -> dict:
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end and start > end:
            self.add_error("end", "The last day comes before the first: pick a later one.")
        return cleaned

    def apply(self, entries):
        """The entries that match what was asked (all of them when nothing was)."""
        data = self.cleaned_data
        if data.get("who"):
            entries = entries.filter(actor_name__iexact=data["who"].strip())
        if data.get("action"):
            entries = entries.filter(action=data["action"])
        if data.get("start"):
            entries = entries.filter(at__gte=_day_start(data["start"]))
        if data.get("end"):
            entries = entries.filter(at__lt=_day_start(data["end"] + timedelta(days=1)))
        if data.get("team"):
            entries = entries.filter(team_id=data["team"].pk)
        return entries


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _budget_field(label: str) -> forms.DecimalField:
    return forms.DecimalField(
        label=label, required=False, min_value=Decimal(0), max_digits=14, decimal_places=4,
        help_text="US dollars per budget period; empty means no limit.",
        widget=forms.NumberInput(attrs={"step": "0.01", "min": "0", "inputmode": "decimal"}),
    )


def _period_field(label: str) -> forms.ChoiceField:
    return forms.ChoiceField(label=label, choices=BudgetPeriod.choices, required=False,
                             help_text="The budget starts again each day, each week (from Monday) or each month.")


def period_adjective(holder: User | Team) -> str:
    """"Monthly", "Weekly" or "Daily": how a budget's label names its period as saved."""
    return {"day": "Daily", "week": "Weekly"}.get(holder.budget_period, "Monthly")


def _plain(amount: Decimal | None) -> str | None:
    return None if amount is None else format(amount.normalize(), "f")


class MemberForm(forms.Form):
    """A member's role, budget and budget period, as their team admin (or staff) sets them. Changes are audited."""

    role = forms.ChoiceField(label="Role", choices=Role.choices)
    monthly_budget = _budget_field("Budget (USD)")
    budget_period = _period_field("Budget period")

    def __init__(self, *args, member: User, by: User, **kwargs) -> None:
        kwargs.setdefault("auto_id", f"id_member_{member.pk}_%s")
        kwargs.setdefault("initial", {"role": member.role, "monthly_budget": _plain(member.monthly_budget),
                                      "budget_period": member.budget_period})
        super().__init__(*args, **kwargs)
        self.member, self.by = member, by
        self.fields["role"].label = f"Role of {member.username}"
        self.fields["monthly_budget"].label = f"{period_adjective(member)} budget of {member.username} (USD)"
        self.fields["budget_period"].label = f"{member.username}'s budget renews each"

    def clean_role(self) -> str:
        role = self.cleaned_data["role"]
        if self.member.pk == self.by.pk and role != self.member.role and not self.by.is_staff:
            raise forms.ValidationError("You cannot change your own role: ask another team admin or staff.")
        return role

    @transaction.atomic
    def save(self, *, address: str | None) -> list[AuditEntry]:
        member = User.objects.select_for_update().get(pk=self.member.pk)
        before = audit.snapshot(member, ["role", "monthly_budget", "budget_period"])
        member.role = self.cleaned_data["role"]
        member.monthly_budget = self.cleaned_data["monthly_budget"]
        member.budget_period = self.cleaned_data["budget_period"] or member.budget_period
        member.save(update_fields=["role", "monthly_budget", "budget_period"])
        self.member = member
        return audit.record_changes(before, member, by=self.by, address=address)


class TeamBudgetForm(forms.Form):
    """The team's shared budget and its period. Changes are audited."""

    monthly_budget = _budget_field("Team budget (USD)")
    budget_period = _period_field("Budget period")

    def __init__(self, *args, team: Team, by: User, **kwargs) -> None:
        kwargs.setdefault("auto_id", f"id_team_{team.pk}_%s")
        kwargs.setdefault("initial", {"monthly_budget": _plain(team.monthly_budget),
                                      "budget_period": team.budget_period})
        super().__init__(*args, **kwargs)
        self.team, self.by = team, by
        self.fields["monthly_budget"].label = f"{period_adjective(team)} budget of {team.name} (USD)"
        self.fields["budget_period"].label = f"{team.name}'s budget renews each"

    @transaction.atomic
    def save(self, *, address: str | None) -> list[AuditEntry]:
        team = Team.objects.select_for_update().get(pk=self.team.pk)
        before = audit.snapshot(team, ["monthly_budget", "budget_period"])
        team.monthly_budget = self.cleaned_data["monthly_budget"]
        team.budget_period = self.cleaned_data["budget_period"] or team.budget_period
        team.save(update_fields=["monthly_budget", "budget_period"])
        self.team = team
        return audit.record_changes(before, team, by=self.by, address=address)


#: What an allow-list entry may look like: an AIR ("runware:101@1") or a family of them
#: ("runware:", "civitai:4384@", or a bare source such as "civitai").
RULE_ENTRY = re.compile(r"^[a-z0-9_-]+(:[a-z0-9_-]*(@[a-z0-9_.-]*)?)?$", re.IGNORECASE)


class ModelRulesForm(forms.Form):
    """A team's model rules: which models or families its members may use, and the most one task
    may be estimated to cost. Changes are audited; admission enforces them for every feature."""

    allowed_models = forms.CharField(
        label="Allowed models", required=False, max_length=4000,
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false", "autocapitalize": "off"}),
        help_text="One a line: a model (runware:101@1), a family of versions (civitai:4384@) or a source "
                  "(runware:). Empty allows every model.",
    )
    max_task_cost = forms.DecimalField(
        label="Most one task may cost (USD)", required=False, min_value=Decimal(0), max_digits=14,
        decimal_places=4, help_text="Judged on the task's estimate before it is sent. Empty means no cap.",
        widget=forms.NumberInput(attrs={"step": "0.01", "min": "0", "inputmode": "decimal"}),
    )

    def __init__(self, *args, team: Team, by: User, **kwargs) -> None:
        kwargs.setdefault("auto_id", f"id_rules_{team.pk}_%s")
        kwargs.setdefault("initial", {"allowed_models": "\n".join(team.allowed_model_list),
                                      "max_task_cost": _plain(team.max_task_cost)})
        super().__init__(*args, **kwargs)
        self.team, self.by = team, by

    def clean_allowed_models(self) -> str:
        entries = model_rule_entries(self.cleaned_data["allowed_models"])
        wrong = [entry for entry in entries if not RULE_ENTRY.match(entry)]
        if wrong:
            raise forms.ValidationError(
                f"{', '.join(wrong[:3])} is not a model or family: write an AIR such as runware:101@1, "
                "a family such as civitai:4384@, or a source such as runware:."
            )
        return "\n".join(entries)

    @transaction.atomic
    def save(self, *, address: str | None) -> list[AuditEntry]:
        team = Team.objects.select_for_update().get(pk=self.team.pk)
        before = audit.snapshot(team, ["allowed_models", "max_task_cost"])
        team.allowed_models = self.cleaned_data["allowed_models"]
        team.max_task_cost = self.cleaned_data["max_task_cost"]
        team.save(update_fields=["allowed_models", "max_task_cost"])
        self.team = team
        return audit.record_changes(before, team, by=self.by, address=address)


WEBHOOK_SCHEMES_MESSAGE = ("Enter a web address starting with https:// or http://, such as "
                           "https://hooks.slack.com/services/…")


class AlertWebhookForm(forms.Form):
    """Where a team's budget alerts are posted (Slack-compatible JSON). Changes are audited, with the
    address shortened (accounts.models.shortened_url): the path of a Slack webhook is its secret."""

    alert_webhook_url = forms.URLField(
        label="Webhook URL", required=False, max_length=500, assume_scheme="https",
        validators=[URLValidator(schemes=["http", "https"], message=WEBHOOK_SCHEMES_MESSAGE)],
        error_messages={"invalid": WEBHOOK_SCHEMES_MESSAGE},
        help_text="Budget alerts are posted here as Slack-compatible JSON (a Slack or Mattermost incoming "
                  "webhook, or your own receiver). Empty sends none.",
        widget=forms.URLInput(attrs={"placeholder": "https://hooks.slack.com/services/…", "spellcheck": "false",
                                     "autocapitalize": "off", "autocomplete": "off"}),
    )

    def __init__(self, *args, team: Team, by: User, **kwargs) -> None:
        kwargs.setdefault("auto_id", f"id_alerts_{team.pk}_%s")
        kwargs.setdefault("initial", {"alert_webhook_url": team.alert_webhook_url})
        super().__init__(*args, **kwargs)
        self.team, self.by = team, by
        self.fields["alert_webhook_url"].label = f"Webhook URL of {team.name}"

    @transaction.atomic
    def save(self, *, address: str | None) -> list[AuditEntry]:
        team = Team.objects.select_for_update().get(pk=self.team.pk)
        before = audit.snapshot(team, ["alert_webhook_url"])
        team.alert_webhook_url = self.cleaned_data["alert_webhook_url"]
        team.save(update_fields=["alert_webhook_url"])
        self.team = team
        return audit.record_changes(before, team, by=self.by, address=address)
