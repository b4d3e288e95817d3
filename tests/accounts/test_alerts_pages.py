"""The team's budget alerts page: the webhook, set by team admins and staff, audited; the latest
deliveries and their status; 404 for anyone else."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from django.utils.html import escape

from runware_web.accounts import audit
from runware_web.accounts.models import AuditEntry, Role, Team
from runware_web.money.models import AlertDelivery, BudgetAlert
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

HOOK = "https://hooks.slack.com/services/T000/B000/XXXXsecretXXXX"


@pytest.fixture
def pixels():
    return Team.objects.create(name="Pixels", monthly_budget=Decimal("100"))


@pytest.fixture
def tess(pixels):
    return make_user("tess", team=pixels, role=Role.TEAM_ADMIN, email="tess@example.com")


def test_a_team_admin_sets_the_webhook_and_the_audit_log_keeps_it_without_its_secret(client, pixels, tess):
    client.force_login(tess)
    page = client.get("/team/alerts/")
    assert page.status_code == 200
    assert b"Webhook URL of Pixels" in page.content

    answer = client.post(f"/team/alerts/{pixels.pk}/", {"alert_webhook_url": HOOK})
    assert answer.status_code == 302
    pixels.refresh_from_db()
    assert pixels.alert_webhook_url == HOOK
    entry = AuditEntry.objects.get(action=AuditEntry.Action.ALERT_WEBHOOK)
    assert (entry.actor_name, entry.team_id, entry.target) == ("tess", pixels.pk, "team Pixels")
    assert (entry.before, entry.after) == ("none", "https://hooks.slack.com/…XXXX")

    client.post(f"/team/alerts/{pixels.pk}/", {"alert_webhook_url": HOOK})  # the same again: nothing to log
    client.post(f"/team/alerts/{pixels.pk}/", {"alert_webhook_url": ""})
    entries = AuditEntry.objects.filter(action=AuditEntry.Action.ALERT_WEBHOOK).order_by("pk")
    assert [(e.before, e.after) for e in entries] == [
        ("none", "https://hooks.slack.com/…XXXX"),
        ("https://hooks.slack.com/…XXXX", "none"),
    ]


@pytest.mark.parametrize("typed", ["ftp://example.com/hook", "not an address", "javascript:alert(1)"])
def test_an_address_that_is_not_http_is_refused_next_to_the_field_and_kept_as_typed(
    client, pixels, tess, typed
):
    client.force_login(tess)
    answer = client.post(f"/team/alerts/{pixels.pk}/", {"alert_webhook_url": typed})
    assert answer.status_code == 400
    html = answer.content.decode()
    assert "Enter a web address starting with https:// or http://" in html
    assert f'id="id_alerts_{pixels.pk}_alert_webhook_url_error"' in html
    assert f'value="{escape(typed)}"' in html  # kept as typed
    pixels.refresh_from_db()
    assert pixels.alert_webhook_url == ""
    assert not AuditEntry.objects.filter(action=AuditEntry.Action.ALERT_WEBHOOK).exists()


def test_htmx_gets_the_form_alone_with_a_note(client, pixels, tess):
    client.force_login(tess)
    answer = client.post(
        f"/team/alerts/{pixels.pk}/", {"alert_webhook_url": HOOK}, headers={"HX-Request": "true"}
    )
    html = answer.content.decode()
    assert answer.status_code == 200 and "<html" not in html
    assert 'role="status">Saved Pixels.' in html


def test_members_and_other_teams_admins_find_no_such_page(client, pixels, tess):
    other = Team.objects.create(name="Others")
    client.force_login(make_user("alice", team=pixels))
    assert client.get("/team/alerts/").status_code == 404
    assert client.post(f"/team/alerts/{pixels.pk}/", {"alert_webhook_url": HOOK}).status_code == 404
    client.force_login(tess)
    assert client.post(f"/team/alerts/{other.pk}/", {"alert_webhook_url": HOOK}).status_code == 404
    assert client.get(f"/team/alerts/?team={other.pk}").status_code == 404
    other.refresh_from_db()
    assert other.alert_webhook_url == ""


def test_staff_set_any_teams_webhook(client, pixels):
    client.force_login(make_user("sam", is_staff=True))
    assert client.post(f"/team/alerts/{pixels.pk}/", {"alert_webhook_url": HOOK}).status_code == 302
    pixels.refresh_from_db()
    assert pixels.alert_webhook_url == HOOK


def test_the_page_shows_each_delivery_and_why_one_is_being_retried(client, tess):
    team = Team.objects.create(name="<b>Bold</b>", alert_webhook_url=HOOK)
    tess.team = team
    tess.save(update_fields=["team"])
    alice = make_user("alice", team=team)
    alert = BudgetAlert.objects.create(
        scope="member",
        user=alice,
        team=team,
        period="month",
        threshold=80,
        period_start=timezone.localdate().replace(day=1),
        budget=Decimal("10"),
        spent=Decimal("8.5"),
    )
    AlertDelivery.objects.create(
        alert=alert,
        channel="email",
        recipient="tess@example.com",
        status="sent",
        attempts=1,
        sent_at=timezone.now(),
    )
    AlertDelivery.objects.create(
        alert=alert,
        channel="webhook",
        recipient="https://hooks.slack.com/…XXXX",
        attempts=2,
        last_error="could not reach the receiver: [Errno 111] Connection refused",
        next_attempt_at=timezone.now() + timedelta(minutes=1),
    )
    client.force_login(tess)
    html = client.get("/team/alerts/").content.decode()
    assert "alice reached 80 % of their budget: $8.50 of $10.00" in html
    assert "Email: tess@example.com" in html and ">Sent<" in html
    assert ">Retrying<" in html and "Connection refused (attempt 2; next try at" in html
    assert "&lt;b&gt;Bold&lt;/b&gt;" in html and "<b>Bold</b>" not in html


def test_a_change_made_elsewhere_such_as_the_admin_is_audited_shortened_too(pixels):
    """The admin audits every field of audit.FIELD_ACTIONS through snapshot and record_changes."""
    before = audit.snapshot(pixels)
    pixels.alert_webhook_url = HOOK
    pixels.save(update_fields=["alert_webhook_url"])
    [entry] = audit.record_changes(before, pixels, by=None)
    assert (entry.action, entry.before, entry.after) == (
        "alert_webhook",
        "none",
        "https://hooks.slack.com/…XXXX",
    )
