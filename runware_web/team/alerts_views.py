"""Budget alerts: a team admin sets where their team's alerts are posted (a webhook) and sees the
latest alerts and how each was delivered; staff do it for every team. Changes go to the audit log.

Emails go to a member when their own spend reaches 50, 80 and 100 % of their budget, and to the
team's admins for every member's and the team's own (money.alerts). Another team's page is 404 for
a team admin, as is the page for a plain member.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from runware_web.accounts import audit
from runware_web.accounts.http import AuthenticatedHttpRequest
from runware_web.accounts.models import Team
from runware_web.live.render import render_page
from runware_web.money import alerts
from runware_web.team.forms import AlertWebhookForm
from runware_web.team.members_views import _managed_teams_or_404, _saved_note, _team_filter


@require_safe
def alerts_page(request: AuthenticatedHttpRequest) -> HttpResponse:
    teams = _managed_teams_or_404(request.user)
    shown = _team_filter(request, teams)
    groups = [
        _group(team, AlertWebhookForm(team=team, by=request.user)) for team in ([shown] if shown else teams)
    ]
    return render_page(request, "team/alerts.html", _context(request, teams, shown, groups))


@require_POST
def team_webhook(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    teams = _managed_teams_or_404(request.user)
    team = get_object_or_404(teams, pk=pk)
    form = AlertWebhookForm(request.POST, team=team, by=request.user)
    saved = form.is_valid()
    note = None
    if saved:
        note = _saved_note(team.name, form.save(address=audit.address_of(request)))
        form = AlertWebhookForm(team=form.team, by=request.user)
    if request.htmx:
        return render(request, "team/alerts.html#webhook-form", {"form": form, "note": note})
    if saved:
        messages.success(request, note)
        return redirect(f"{reverse('team:alerts')}?team={team.pk}")
    return render(
        request, "team/alerts.html", _context(request, teams, team, [_group(team, form)]), status=400
    )


def _group(team: Team, form: AlertWebhookForm) -> dict:
    return {"team": team, "form": form, "alerts": alerts.recent_alerts(team)}


def _context(request: AuthenticatedHttpRequest, teams, shown: Team | None, groups: list[dict]) -> dict:
    return {
        "groups": groups,
        "teams": teams,
        "shown_team": shown,
        "is_staff": request.user.is_staff,
        "thresholds": alerts.THRESHOLDS,
    }
