"""The form that makes a key: a name, and optionally an expiry, a budget and what it may run."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.utils import timezone

from runware_web.endpoint.models import ApiKey
from runware_web.endpoint.outputs import RUN_TASK_TYPES
from runware_web.lib.air import is_air
from runware_web.lib.kinds import kind_label

#: Every task type the endpoint runs (the free utilities are always allowed).
TASK_TYPES = [(task_type, f"{kind_label(task_type)} ({task_type})") for task_type in RUN_TASK_TYPES]


class KeyForm(forms.Form):
    name = forms.CharField(max_length=80, help_text="What uses it, e.g. “batch script on my laptop”.")
    expires_at = forms.DateTimeField(
        required=False, label="Expires", help_text="Empty: it works until you revoke it.",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    budget = forms.DecimalField(
        required=False, min_value=Decimal(0), max_digits=12, decimal_places=4, label="Budget (US dollars)",
        help_text="Empty: only your own and your team's budgets apply.",
    )
    budget_period = forms.ChoiceField(choices=ApiKey.Period.choices, initial=ApiKey.Period.MONTH, label="Per")
    task_types = forms.MultipleChoiceField(
        required=False, choices=TASK_TYPES, widget=forms.CheckboxSelectMultiple, label="Task types",
        help_text="None ticked: any task the endpoint runs.",
    )
    models = forms.CharField(
        required=False, label="Models", widget=forms.Textarea(attrs={"rows": 2}),
        help_text="AIR identifiers, one per line or separated by commas. Empty: any model.",
    )

    def clean_expires_at(self) -> Any:
        value = self.cleaned_data.get("expires_at")
        if value is not None and value <= timezone.now():
            raise forms.ValidationError("Pick a moment in the future, or leave it empty.")
        return value

    def clean_models(self) -> list[str]:
        raw = self.cleaned_data.get("models") or ""
        names = [part.strip() for part in raw.replace(",", "\n").splitlines() if part.strip()]
        wrong = [name for name in names if not is_air(name)]
        if wrong:
            raise forms.ValidationError(f"Not an AIR identifier: {', '.join(wrong)} (expected e.g. runware:101@1).")
        return names
