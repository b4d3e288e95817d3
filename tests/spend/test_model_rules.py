"""A team's model rules: an allow-list of models or families and a cap on one task's estimate,
held at admission for every feature, refused saying which rule and whom to ask, and nothing billed."""

from __future__ import annotations

from decimal import Decimal

import pytest
from channels.db import database_sync_to_async
from django.db import transaction
from django.test import Client
from django.urls import reverse

from runware_web.accounts.models import AuditEntry, Role, Team, rule_allows
from runware_web.money.models import Charge
from runware_web.runner.admit import admit_and_create
from runware_web.upstream.errors import Refused
from runware_web.upstream.models import Task
from tests.conftest import acreate_user, make_user

MODEL = "runware:101@1"
PARAMS = {"model": MODEL, "positivePrompt": "a lighthouse at dusk", "width": 512, "height": 512, "steps": 20}
COST = Decimal("0.01")


def admit(user, *, model: str = MODEL, estimate: Decimal = COST, task_type: str = "imageInference") -> Task:
    with transaction.atomic():
        return admit_and_create(user=user, feature="rules-test", task_type=task_type,
                                params={**PARAMS, "model": model}, number_results=1, estimated_cost=estimate,
                                delivery="sync")


@pytest.mark.parametrize(("entry", "model", "allowed"), [
    ("runware:101@1", "runware:101@1", True),
    ("runware:101@1", "runware:101@2", False),
    ("runware:", "runware:100@1", True),
    ("runware", "runware:100@1", True),  # a bare source is the whole source
    ("runware", "runwarez:1@1", False),
    ("civitai:4384@", "civitai:4384@128713", True),
    ("civitai:4384@", "civitai:43840@1", False),
    ("CivitAI:4384@", "civitai:4384@128713", True),
])
def test_an_allow_list_entry_names_a_model_or_a_whole_family(entry, model, allowed):
    assert rule_allows(entry, model) is allowed


@pytest.mark.django_db
def test_a_model_outside_the_allow_list_is_refused_naming_the_rule_and_the_team_admins():
    team = Team.objects.create(name="Pixels", allowed_models="runware:\ncivitai:4384@")
    make_user("tess", team=team, role=Role.TEAM_ADMIN)
    make_user("ursula", team=team, role=Role.TEAM_ADMIN)
    alice = make_user("alice", team=team)
    with pytest.raises(Refused) as refused:
        admit(alice, model="civitai:9999@1")
    assert refused.value.message == (
        "Your team's rules allow only runware:, civitai:4384@, and civitai:9999@1 is not one of them. "
        "Pick one of those, or ask a team admin (tess, ursula) to change the rules."
    )
    assert refused.value.field == "model"
    assert not Task.objects.exists()  # nothing written, so nothing sent and nothing billed
    assert isinstance(admit(alice, model="civitai:4384@128713"), Task)  # the family is allowed
    assert isinstance(admit(alice, model="runware:100@1"), Task)


@pytest.mark.django_db
def test_without_a_team_admin_the_refusal_sends_the_member_to_an_administrator():
    alice = make_user("alice", team=Team.objects.create(name="Pixels", allowed_models="runware:101@1"))
    with pytest.raises(Refused) as refused:
        admit(alice, model="runware:100@1")
    assert refused.value.message.endswith("ask an administrator to change the rules.")


@pytest.mark.django_db
def test_a_task_estimated_over_the_teams_cap_is_refused_and_one_at_the_cap_is_admitted():
    team = Team.objects.create(name="Pixels", max_task_cost=Decimal("0.05"))
    make_user("tess", team=team, role=Role.TEAM_ADMIN)
    alice = make_user("alice", team=team)
    with pytest.raises(Refused) as refused:
        admit(alice, estimate=Decimal("0.06"))
    assert refused.value.message == (
        "Your team's rules cap one task at $0.05, and this one is estimated at $0.06. Try fewer or smaller "
        "results, or ask a team admin (tess) to change the rules."
    )
    assert not Task.objects.exists()
    assert admit(alice, estimate=Decimal("0.05")).estimated_cost == Decimal("0.05")


@pytest.mark.django_db
def test_rules_hold_for_every_kind_of_task_and_not_for_other_teams():
    team = Team.objects.create(name="Pixels", allowed_models="runware:101@1")
    alice = make_user("alice", team=team)
    bob = make_user("bob", team=Team.objects.create(name="Night shift"))
    carol = make_user("carol")
    for task_type in ("imageInference", "textInference", "videoInference", "audioInference", "removeBackground"):
        with pytest.raises(Refused):
            admit(alice, model="openai:1@1", task_type=task_type)
    admit(bob, model="openai:1@1")
    admit(carol, model="openai:1@1")
    assert isinstance(admit(alice, model="", task_type="promptEnhance"), Task)  # no model chosen: nothing to judge


@pytest.mark.django_db(transaction=True)
async def test_a_refused_model_is_never_sent_and_nothing_is_billed(upstream):
    """Through the runner, as every feature submits: refused before anything reaches Runware."""
    team = await database_sync_to_async(Team.objects.create)(name="Pixels", allowed_models="civitai:")
    alice = await acreate_user("alice", team=team)
    with pytest.raises(Refused) as refused:
        await upstream.submit(user=alice, feature="rules-test", task_type="imageInference", params=PARAMS,
                              number_results=1, estimated_cost=COST)
    assert refused.value.field == "model"
    assert await database_sync_to_async(Task.objects.count)() == 0
    assert await database_sync_to_async(Charge.objects.count)() == 0


@pytest.mark.django_db
def test_a_team_admin_edits_the_rules_and_each_change_is_audited():
    team = Team.objects.create(name="Pixels")
    tess = make_user("tess", team=team, role=Role.TEAM_ADMIN)
    client = Client()
    client.force_login(tess)
    assert "Allowed models" in client.get(reverse("team:rules")).content.decode()
    response = client.post(reverse("team:team_rules", args=[team.pk]),
                           {"allowed_models": "runware:\n civitai:4384@ \n\nrunware:", "max_task_cost": "0.25"})
    assert response.status_code == 302
    team.refresh_from_db()
    assert (team.allowed_model_list, team.max_task_cost) == (["runware:", "civitai:4384@"], Decimal("0.25"))
    entries = AuditEntry.objects.filter(action=AuditEntry.Action.MODEL_RULE, team=team).order_by("pk")
    assert [(e.before, e.after, e.actor_name) for e in entries] == [
        ("", "runware:\ncivitai:4384@", "tess"), ("none", "$0.25", "tess"),
    ]


@pytest.mark.django_db
def test_a_wrong_entry_is_shown_next_to_the_field_with_what_was_typed():
    team = Team.objects.create(name="Pixels")
    tess = make_user("tess", team=team, role=Role.TEAM_ADMIN)
    client = Client()
    client.force_login(tess)
    response = client.post(reverse("team:team_rules", args=[team.pk]),
                           {"allowed_models": "runware:\nflux dev please", "max_task_cost": ""})
    page = response.content.decode()
    assert response.status_code == 400
    assert "flux dev please is not a model or family" in page and "flux dev please</textarea>" in page
    team.refresh_from_db()
    assert team.allowed_models == "" and not AuditEntry.objects.exists()


@pytest.mark.django_db
def test_a_plain_member_has_no_rules_page(team, user):
    client = Client()
    client.force_login(user)
    assert client.get(reverse("team:rules")).status_code == 404
    assert client.post(reverse("team:team_rules", args=[team.pk]), {"allowed_models": "runware:"}).status_code == 404
