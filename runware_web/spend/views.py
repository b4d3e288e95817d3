"""The staff spend page, its CSV export and budget forms, and every member's usage page."""

from __future__ import annotations

import csv
import functools
from collections.abc import Callable, Iterator
from typing import Any

from asgiref.sync import iscoroutinefunction, sync_to_async
from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe

from runware_web.accounts import audit
from runware_web.accounts.http import AuthenticatedHttpRequest
from runware_web.accounts.models import Team, User
from runware_web.money import reconcile, reports
from runware_web.spend.forms import BudgetForm, ExportForm, PeriodForm
from runware_web.upstream.errors import UpstreamError


def staff_required(view: Callable) -> Callable:
    """Staff only; anyone else gets a 404, as if the page did not exist."""
    if iscoroutinefunction(view):

        @functools.wraps(view)
        async def async_wrapper(request: AuthenticatedHttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_staff:
                raise Http404("No such page.")
            return await view(request, *args, **kwargs)

        return async_wrapper

    @functools.wraps(view)
    def wrapper(request: AuthenticatedHttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_staff:
            raise Http404("No such page.")
        return view(request, *args, **kwargs)

    return wrapper


# ---------------------------------------------------------------------- the staff page


def dashboard_context(period_form: PeriodForm) -> dict[str, Any]:
    """Everything the live regions of the staff page show (the consumer re-renders them too)."""
    board = reports.dashboard(period_form.chosen())
    return {"board": board, "period": board.period}


def page_context(request: HttpRequest, period_form: PeriodForm, **extra: Any) -> dict[str, Any]:
    context = dashboard_context(period_form)
    period = context["period"]
    context.update(
        period_form=period_form,
        query=request.GET.urlencode(),
        export_url=f"{reverse('spend:export')}?from={period.first:%Y-%m-%d}&to={period.last:%Y-%m-%d}",
        reconciliation=reconcile.current(),
        member_budgets=[BudgetForm(target=user) for user in User.objects.filter(is_active=True)
                        .select_related("team").order_by("username")],
        team_budgets=[BudgetForm(target=team) for team in Team.objects.order_by("name")],
        rate_limit=settings.RATE_LIMIT_PER_MINUTE,
    )
    context.update(extra)
    return context


@require_safe
@staff_required
def index(request: AuthenticatedHttpRequest) -> HttpResponse:
    period_form = PeriodForm(request.GET or None)
    return render(request, "spend/index.html", page_context(request, period_form))


@require_safe
@staff_required
def export(request: AuthenticatedHttpRequest) -> HttpResponse:
    """One CSV row per charge between two dates (both included), costs exactly as Runware reported."""
    form = ExportForm(request.GET)
    if not form.is_valid():
        problems = "; ".join(f"{name}: {' '.join(errors)}" for name, errors in form.errors.items())
        return HttpResponseBadRequest(
            f"Could not export: {problems}. Use /spend/export.csv?from=YYYY-MM-DD&to=YYYY-MM-DD.",
            content_type="text/plain; charset=utf-8",
        )
    period = form.period()
    # Built whole: Daphne would buffer a synchronous stream anyway, and a month of charges is small.
    response = HttpResponse("".join(_csv_rows(period)), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="runware-spend-{period.first:%Y-%m-%d}-to-{period.last:%Y-%m-%d}.csv"'
    )
    return response


class _Echo:
    def write(self, value: str) -> str:
        return value


CSV_HEADER = ["time", "user", "team", "task_type", "model", "task_id", "cost"]


def _csv_rows(period: reports.Period) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_HEADER)
    charges = (
        reports.charges_in(period)
        .order_by("created_at", "id")
        .values_list("created_at", "user__username", "team__name", "task_type", "model", "task_id", "amount")
    )
    for created_at, username, team, task_type, model, task_id, amount in charges.iterator(chunk_size=2000):
        yield writer.writerow([
            timezone.localtime(created_at).isoformat(),
            _cell(username),
            _cell(team or ""),
            _cell(task_type),
            _cell(model),
            str(task_id),
            format(amount.normalize(), "f"),
        ])


def _cell(text: str) -> str:
    """Keep spreadsheets from running a name that looks like a formula."""
    return f"'{text}" if text[:1] in {"=", "+", "-", "@", "\t", "\r"} else text


@require_POST
@staff_required
def set_budget(request: AuthenticatedHttpRequest, kind: str, pk: int) -> HttpResponse:
    """The no-JavaScript way to change a budget (the page sends the same form over its socket)."""
    target = get_object_or_404(Team if kind == "team" else User, pk=pk)
    form = BudgetForm(request.POST, target=target)
    if form.is_valid():
        form.save(by=request.user, address=audit.address_of(request))
        messages.success(request, f"Saved the monthly budget of {form.name}.")
        return redirect(f"{reverse('spend:index')}#budgets")
    context = page_context(request, PeriodForm(None))
    forms_key = "team_budgets" if kind == "team" else "member_budgets"
    context[forms_key] = [form if other.target.pk == target.pk else other for other in context[forms_key]]
    return render(request, "spend/index.html", context, status=400)


@require_POST
@staff_required
async def take_reading(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Read the Runware balance now (no-JavaScript fallback of the page's buttons)."""
    starting_point = request.POST.get("starting_point") == "1"
    user = await request.auser()
    try:
        await reconcile.take_reading(user=user, starting_point=starting_point)
    except UpstreamError as error:
        await sync_to_async(messages.error)(request, f"Could not read the balance: {error.message}")
    else:
        note = "Recorded a new starting point." if starting_point else "Read the balance."
        await sync_to_async(messages.success)(request, note)
    return redirect(f"{reverse('spend:index')}#reconciliation")


# ---------------------------------------------------------------------- every member's usage


@require_safe
def usage(request: AuthenticatedHttpRequest) -> HttpResponse:
    return render(request, "account/usage.html", {"usage": reports.member_usage(request.user)})
