"""Members: a team admin sets their team's members' roles and budgets and the team's budget; staff
do it for every team. Each change goes to the audit log.

Another team's member or team is 404 for a team admin, as is the page for a plain member: a page
that does not exist for them. Each member's form saves on its own (htmx swaps that member's row).
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from runware_web.accounts import audit
from runware_web.accounts.http import AuthenticatedHttpRequest
from runware_web.accounts.models import Team, User
from runware_web.live.render import render_page
from runware_web.money import reports
from runware_web.team.forms import MemberForm, TeamBudgetForm


@require_safe
def members(request: AuthenticatedHttpRequest) -> HttpResponse:
    teams = _managed_teams_or_404(request.user)
    shown = _team_filter(request, teams)
    return render_page(request, "team/members.html", _page_context(request, teams, shown))


@require_POST
def member(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    teams = _managed_teams_or_404(request.user)
    target = get_object_or_404(User.objects.select_related("team"), pk=pk, team__in=teams)
    form = MemberForm(request.POST, member=target, by=request.user)
    saved = form.is_valid()
    if saved:
        changes = form.save(address=audit.address_of(request))
        note = _saved_note(target.username, changes)
        form = MemberForm(member=form.member, by=request.user)
        target = form.member
    if request.htmx:
        return render(request, "team/members.html#member-row",
                      {"line": _member_line(target, form), "note": note if saved else None})
    if saved:
        messages.success(request, note)
        return redirect(f"{reverse('team:members')}?team={target.team_id}#member-{target.pk}")
    context = _page_context(request, teams, target.team, replace={target.pk: form})
    return render(request, "team/members.html", context, status=400)


@require_POST
def team_budget(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    teams = _managed_teams_or_404(request.user)
    team = get_object_or_404(teams, pk=pk)
    form = TeamBudgetForm(request.POST, team=team, by=request.user)
    saved = form.is_valid()
    if saved:
        changes = form.save(address=audit.address_of(request))
        note = _saved_note(team.name, changes)
        team = form.team
        form = TeamBudgetForm(team=team, by=request.user)
    if request.htmx:
        return render(request, "team/members.html#team-budget",
                      {"group": {"team": team, "budget_form": form, "use": reports.team_budget_use(team)},
                       "note": note if saved else None})
    if saved:
        messages.success(request, note)
        return redirect(f"{reverse('team:members')}?team={team.pk}")
    context = _page_context(request, teams, team, team_form=form)
    return render(request, "team/members.html", context, status=400)


def _saved_note(name: str, changes: list) -> str:
    return f"Saved {name}." if changes else f"Nothing changed for {name}."


def _page_context(request: AuthenticatedHttpRequest, teams, shown: Team | None, *,
                  replace: dict[int, MemberForm] | None = None, team_form: TeamBudgetForm | None = None) -> dict:
    """Each team shown, its budget form and its members' forms (`replace`: forms with errors to keep)."""
    replace = replace or {}
    groups = []
    for team in ([shown] if shown else teams):
        people = team.members.filter(is_active=True).order_by("username")
        groups.append({
            "team": team,
            "use": reports.team_budget_use(team),
            "budget_form": team_form if team_form and team_form.team.pk == team.pk
            else TeamBudgetForm(team=team, by=request.user),
            "lines": [_member_line(person, replace.get(person.pk) or MemberForm(member=person, by=request.user))
                      for person in people],
        })
    return {"groups": groups, "teams": teams, "shown_team": shown, "is_staff": request.user.is_staff}


def _member_line(person: User, form: MemberForm) -> dict:
    return {"member": person, "form": form, "use": reports.member_budget_use(person)}


def _managed_teams_or_404(user: User):
    if not user.is_staff and not user.is_team_admin:
        raise Http404("No such page.")
    return user.managed_teams()


def _team_filter(request: AuthenticatedHttpRequest, teams) -> Team | None:
    """`?team=<id>`: one of the teams this person manages, or 404 (whether or not it exists).
    A team admin always sees their one team."""
    raw = request.GET.get("team", "")
    if not raw:
        return None if request.user.is_staff else teams.first()
    if not raw.isdigit():
        raise Http404("No such team.")
    return get_object_or_404(teams, pk=int(raw))
