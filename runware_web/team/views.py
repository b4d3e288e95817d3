"""Invitations: staff and team admins make links; an invitee opens one and makes their account.

A team admin sees and manages only their own team's invitations: another team's, or the page
itself for a plain member, is 404 (a page that does not exist for them, as staff pages are).
The link's token leaves the URL at once (into the session, as Django's password reset does), so
it never reaches a Referer header, and a link that does not work answers 200 with a plain page,
so no "Not Found: /team/join/<token>/" line is ever logged.
"""

from __future__ import annotations

import logging
from smtplib import SMTPException

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from runware_web.accounts import audit
from runware_web.accounts import invitations as invites
from runware_web.accounts.http import AuthenticatedHttpRequest
from runware_web.accounts.models import Invitation, Team, User
from runware_web.live.render import render_page
from runware_web.team.forms import InvitationForm, JoinForm

log = logging.getLogger(__name__)

SESSION_TOKEN = "_invitation_token"  # the session key that holds the token between the link and the form
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


# ------------------------------------------------------------------------------ staff and team admins


@require_http_methods(["GET", "POST"])
def invitations(request: AuthenticatedHttpRequest) -> HttpResponse:
    teams = _managed_teams_or_404(request.user)
    shown_team = _team_filter(request, teams)
    form = InvitationForm(request.POST or None, user=request.user)
    issued, email_problem = None, None
    if request.method == "POST" and form.is_valid():
        issued = invites.issue(by=request.user, address=audit.address_of(request), **form.cleaned_data)
        email_problem = _send_if_asked(request, issued)
        form = InvitationForm(user=request.user, initial={"team": issued.invitation.team_id})
    context = {
        "form": form,
        "issued": issued,
        "link": _link(request, issued.token) if issued else None,
        "email_problem": email_problem,
        "invitations": _invitations_of(teams, shown_team),
        "teams": teams,
        "shown_team": shown_team,
    }
    # htmx swaps only a 2xx answer: the form with its errors comes back as 200 to htmx, 400 to a plain post.
    status = 400 if form.errors and not request.htmx else 200
    return render_page(request, "team/invitations.html", context, partials={"invitations": "invitations"},
                       status=status)


@require_POST
def revoke(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    teams = _managed_teams_or_404(request.user)
    invitation = get_object_or_404(Invitation.objects.select_related("team", "created_by"), pk=pk, team__in=teams)
    if invites.revoke(invitation, by=request.user, address=audit.address_of(request)):
        note = f"The invitation to {invitation.team.name} is withdrawn: its link no longer works."
    else:
        note = "That invitation was already used or withdrawn, so nothing changed."
    invitation.refresh_from_db()
    if request.htmx:
        return render(request, "team/invitations.html#invitation-row", {"invitation": invitation, "note": note})
    messages.info(request, note)
    return redirect("team:invitations")


def _managed_teams_or_404(user: User):
    teams = user.managed_teams()
    if not user.is_staff and not user.is_team_admin:
        raise Http404("No such page.")
    return teams


def _team_filter(request: AuthenticatedHttpRequest, teams) -> Team | None:
    """`?team=<id>`: one of the teams this person manages, or 404 (whether or not it exists)."""
    raw = request.GET.get("team", "")
    if not raw:
        return None
    if not raw.isdigit():
        raise Http404("No such team.")
    return get_object_or_404(teams, pk=int(raw))


def _invitations_of(teams, team: Team | None):
    shown = Invitation.objects.filter(team__in=teams).select_related("team", "created_by", "accepted_by")
    if team is not None:
        shown = shown.filter(team=team)
    return shown[:200]


def _link(request: HttpRequest, token: str) -> str:
    return request.build_absolute_uri(reverse("team:open_link", args=[token]))


def _send_if_asked(request: HttpRequest, issued: invites.Issued) -> str | None:
    """Mail the link if an address was given; what went wrong, for the page, if it could not be sent."""
    if not issued.invitation.email:
        return None
    try:
        invites.send(issued, _link(request, issued.token))
    except (SMTPException, OSError) as exc:
        log.warning("Could not send invitation %s by email: %s", issued.invitation.pk, type(exc).__name__)
        return ("The email could not be sent (the mail server did not take it). The invitation is made: "
                "copy the link below and send it yourself.")
    return None


# ------------------------------------------------------------------------------ the invitee


@login_not_required
@require_safe
def open_link(request: HttpRequest, token: str) -> HttpResponse:
    """Move the token into the session and continue without it in the URL."""
    invitation = invites.find(token)
    if problem := invites.why_not_open(invitation):
        return _not_open(request, problem)
    request.session[SESSION_TOKEN] = token
    return redirect("team:join")


@login_not_required
@require_http_methods(["GET", "POST"])
def join(request: HttpRequest) -> HttpResponse:
    token = request.session.get(SESSION_TOKEN)
    invitation = invites.find(token) if token else None
    if not token:
        return _not_open(request, "Open the link from your invitation to join a team.")
    if problem := invites.why_not_open(invitation):
        return _not_open(request, problem)
    assert invitation is not None
    if request.user.is_authenticated:
        return render(request, "team/join.html", {"invitation": invitation, "logged_in_as": request.user})
    form = JoinForm(request.POST or None, initial={"email": invitation.email})
    if request.method == "POST" and form.is_valid():
        try:
            member = invites.accept(invitation, form.save(commit=False), address=audit.address_of(request))
        except invites.NoLongerOpen:
            invitation.refresh_from_db()
            return _not_open(request, invites.why_not_open(invitation) or invites.NOT_OPEN["unknown"])
        request.session.pop(SESSION_TOKEN, None)
        login(request, member, backend=MODEL_BACKEND)
        messages.success(request, f"Welcome to {invitation.team.name}! You joined as "
                                  f"{invitation.get_role_display().lower()}.")
        return redirect("studio:index")
    return render(request, "team/join.html", {"invitation": invitation, "form": form},
                  status=400 if form.errors else 200)


def _not_open(request: HttpRequest, problem: str) -> HttpResponse:
    request.session.pop(SESSION_TOKEN, None)
    return render(request, "team/join.html", {"problem": problem})
