from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django import forms
from django.db import transaction

from runware_web.accounts import audit
from runware_web.accounts.models import BudgetPeriod, Team, User
from runware_web.lib.money import plain_amount
from runware_web.money import reports
from runware_web.money.reports import Period

PERIODS = [
    ("today", "Today"),
    ("7d", "Last 7 days"),
    ("30d", "Last 30 days"),
    ("month", "This month"),
    ("custom", "Custom dates"),
]
MAX_PAGE_DAYS = 366


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self) -> None:
        super().__init__(format="%Y-%m-%d")


def _date_range_fields(form: forms.Form, *, required: bool) -> None:
    # "from" is a Python keyword, so these two cannot be class attributes.
    form.fields["from"] = forms.DateField(label="From", required=required, widget=DateInput(),
                                          input_formats=["%Y-%m-%d"])
    form.fields["to"] = forms.DateField(label="To", required=required, widget=DateInput(),
                                        input_formats=["%Y-%m-%d"], help_text="Included.")


def _check_order(form: forms.Form, cleaned: dict) -> None:
    first, last = cleaned.get("from"), cleaned.get("to")
    if first and last and last < first:
        form.add_error("to", "The end date is before the start date.")


class PeriodForm(forms.Form):
    """Which days the staff page shows: a preset, or custom dates (`from`/`to`, both included)."""

    period = forms.ChoiceField(label="Period", choices=PERIODS, required=False, initial="month")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        _date_range_fields(self, required=False)
        self.fields["to"].help_text = "Both dates are included."

    def clean(self) -> dict:
        cleaned = super().clean()
        if not cleaned.get("period"):
            cleaned["period"] = "custom" if (cleaned.get("from") or cleaned.get("to")) else "month"
        if cleaned.get("period") == "custom":
            for name, what in (("from", "a start date"), ("to", "an end date")):
                if not cleaned.get(name) and name not in self.errors:
                    self.add_error(name, f"Pick {what} for a custom period.")
            _check_order(self, cleaned)
            first, last = cleaned.get("from"), cleaned.get("to")
            if first and last and (last - first) >= timedelta(days=MAX_PAGE_DAYS):
                self.add_error("to", f"Show at most {MAX_PAGE_DAYS} days at once; the CSV export has no limit.")
        return cleaned

    def chosen(self) -> Period:
        """The period to show: what was asked for when valid, else this month."""
        if not self.is_valid():
            return reports.month_period()
        key = self.cleaned_data.get("period") or "month"
        if key == "custom":
            return reports.custom_period(self.cleaned_data["from"], self.cleaned_data["to"])
        return reports.preset_period(key)


class ExportForm(forms.Form):
    """`/spend/export.csv?from=YYYY-MM-DD&to=YYYY-MM-DD` (both included; default: this month)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        _date_range_fields(self, required=False)

    def clean(self) -> dict:
        cleaned = super().clean()
        _check_order(self, cleaned)
        return cleaned

    def period(self) -> Period:
        month = reports.month_period()
        first = self.cleaned_data.get("from") or month.first
        last = self.cleaned_data.get("to") or max(first, reports.today())
        return reports.custom_period(first, last)


class BudgetForm(forms.Form):
    """A budget in US dollars and its period (a day, a week, a month); empty means no limit."""

    monthly_budget = forms.DecimalField(
        label="Monthly budget (USD)",
        required=False,
        min_value=Decimal(0),
        max_digits=14,
        decimal_places=4,
        help_text="Empty means no limit.",
        widget=forms.NumberInput(attrs={"step": "0.01", "min": "0", "inputmode": "decimal"}),
    )
    budget_period = forms.ChoiceField(label="Budget period", choices=BudgetPeriod.choices, required=False,
                                      help_text="Left out: the period stays as it is.")

    def __init__(self, *args, target: User | Team, **kwargs) -> None:
        kind = "team" if isinstance(target, Team) else "member"
        kwargs.setdefault("auto_id", f"id_budget_{kind}_{target.pk}_%s")
        budget = target.monthly_budget
        kwargs.setdefault("initial", {"monthly_budget": None if budget is None
                                      else plain_amount(budget, grouping=False),
                                      "budget_period": target.budget_period})
        super().__init__(*args, **kwargs)
        self.target = target
        self.kind = kind
        self.name = target.name if isinstance(target, Team) else target.username
        adjective = {"day": "Daily", "week": "Weekly"}.get(target.budget_period, "Monthly")
        self.fields["monthly_budget"].label = f"{adjective} budget of {self.name} (USD)"
        self.fields["budget_period"].label = f"{self.name}'s budget renews each"

    def save(self, *, by: User, address: str | None = None) -> None:
        """Save the budget and, if it changed, say so in the audit log (who, from what, to what)."""
        with transaction.atomic():
            before = audit.snapshot(self.target, ["monthly_budget", "budget_period"])
            self.target.monthly_budget = self.cleaned_data["monthly_budget"]
            self.target.budget_period = self.cleaned_data["budget_period"] or self.target.budget_period
            self.target.save(update_fields=["monthly_budget", "budget_period"])
            audit.record_changes(before, self.target, by=by, address=address)
