"""Model rules: a team admin sets which models their team's members may use and the most one task
may cost; staff do it for every team. Each change goes to the audit log; admission enforces them.

Another team's rules are 404 for a team admin, as is the page for a plain member.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from runware_web.accounts import audit
from runware_web.accounts.http import AuthenticatedHttpRequest
from runware_web.live.render import render_page
from runware_web.team.forms import ModelRulesForm
from runware_web.team.members_views import _managed_teams_or_404, _saved_note, _team_filter


@require_safe
def rules(request: AuthenticatedHttpRequest) -> HttpResponse:
    teams = _managed_teams_or_404(request.user)
    shown = _team_filter(request, teams)
    forms = [ModelRulesForm(team=team, by=request.user) for team in ([shown] if shown else teams)]
    return render_page(request, "team/rules.html", {"forms": forms, "teams": teams, "shown_team": shown,
                                                     "is_staff": request.user.is_staff})


@require_POST
def team_rules(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    teams = _managed_teams_or_404(request.user)
    team = get_object_or_404(teams, pk=pk)
    form = ModelRulesForm(request.POST, team=team, by=request.user)
    saved = form.is_valid()
    note = None
    if saved:
        note = _saved_note(team.name, form.save(address=audit.address_of(request)))
        form = ModelRulesForm(team=form.team, by=request.user)
    if request.htmx:
        return render(request, "team/rules.html#rules-form", {"form": form, "note": note})
    if saved:
        messages.success(request, note)
        return redirect(f"{reverse('team:rules')}?team={team.pk}")
    context = {"forms": [form], "teams": teams, "shown_team": team, "is_staff": request.user.is_staff}
    return render(request, "team/rules.html", context, status=400)
