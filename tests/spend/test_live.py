"""The staff page's socket: current state on connect, live totals as charges land, budgets and balance."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from runware_web.accounts.models import AuditEntry, User
from runware_web.asgi import application
from runware_web.lib.money import usd
from runware_web.money.models import BalanceReading
from tests.conftest import acreate_user
from tests.test_sockets import session_cookie

pytestmark = pytest.mark.django_db(transaction=True)

PARAMS = {"model": "runware:101@1", "positivePrompt": "a paper crane", "width": 512, "height": 512, "steps": 4}


async def staff_socket(query: str = "") -> WebsocketCommunicator:
    cookie = await session_cookie("sam", is_staff=True)
    ws = WebsocketCommunicator(application, f"/ws/spend/{query}",
                               headers=[(b"origin", b"http://testserver"), (b"cookie", cookie.encode())])
    connected, _ = await ws.connect()
    assert connected
    return ws


async def receive_until(ws: WebsocketCommunicator, needle: str) -> str:
    """Frames until one contains `needle` (the page gets several fragments per change)."""
    while True:
        frame = await ws.receive_from(timeout=10)
        if needle in frame:
            return frame


def section(frame: str, element_id: str) -> str:
    start = frame.index(f'id="{element_id}"')
    return frame[start:frame.index("</tr>", start)] if element_id.startswith(("member-", "team-")) else frame[start:]


async def test_on_connect_the_page_gets_its_live_regions_and_the_balance(upstream, simulator):
    ws = await staff_socket("?period=7d")
    live = await receive_until(ws, 'id="spend-summary"')
    for region in ("spend-summary", "spend-chart-card", "spend-members", "spend-teams", "spend-breakdowns",
                   "spend-newest"):
        assert f'id="{region}"' in live
    assert "Last 7 days" in live
    balance = await receive_until(ws, 'id="reconciliation"')
    assert f'<dd data-balance>{usd(simulator.balance())}</dd>' in balance
    assert await database_sync_to_async(BalanceReading.objects.filter(is_starting_point=True).count)() == 1
    await ws.disconnect()


async def test_a_members_new_charge_updates_their_total_without_reloading(upstream):
    alice = await acreate_user("alice")
    ws = await staff_socket()
    await receive_until(ws, 'id="reconciliation"')  # the connect-time state is in

    task = await upstream.submit(user=alice, feature="spend-test", task_type="imageInference", params=PARAMS)
    await upstream.wait(task.pk)
    frame = await receive_until(ws, 'id="charge-')
    cost = (await database_sync_to_async(lambda: task.charges.get().amount)()).normalize()
    assert f"${cost}" in section(frame, f"member-{alice.pk}")
    assert f"${cost}" in section(frame, "spend-newest")
    await ws.disconnect()


async def test_a_budget_sent_over_the_socket_is_saved_and_shown(upstream):
    alice = await acreate_user("alice")
    ws = await staff_socket()
    await receive_until(ws, 'id="reconciliation"')
    await ws.send_to(text_data=json.dumps({"action": "set_budget", "kind": "member", "pk": str(alice.pk),
                                           "monthly_budget": "25.50", "HEADERS": {"HX-Request": "true"}}))
    row = await receive_until(ws, f'id="budget-member-{alice.pk}"')
    assert "Saved" in row and 'value="25.50"' in row
    assert "$25.50" in section(await receive_until(ws, f'id="member-{alice.pk}"'), f"member-{alice.pk}")
    assert (await database_sync_to_async(User.objects.get)(pk=alice.pk)).monthly_budget == Decimal("25.5")
    entry = await AuditEntry.objects.aget(action=AuditEntry.Action.BUDGET)  # who changed it, from what, to what
    assert (entry.target, entry.before, entry.after) == ("member alice", "none", "$25.50")
    assert entry.actor_id is not None and entry.actor_id != alice.pk
    await ws.disconnect()


async def test_a_bad_budget_is_explained_in_place_and_the_socket_stays_open(upstream):
    alice = await acreate_user("alice", monthly_budget=Decimal("5"))
    ws = await staff_socket()
    await receive_until(ws, 'id="reconciliation"')
    await ws.send_to(text_data=json.dumps({"action": "set_budget", "kind": "member", "pk": str(alice.pk),
                                           "monthly_budget": "lots"}))
    row = await receive_until(ws, f'id="budget-member-{alice.pk}"')
    assert "Enter a number." in row
    assert 'value="lots"' in row
    assert (await database_sync_to_async(User.objects.get)(pk=alice.pk)).monthly_budget == Decimal("5")
    await ws.send_to(text_data=json.dumps({"action": "set_budget", "kind": "member", "pk": "999999",
                                           "monthly_budget": "1"}))
    assert "no longer exists" in await receive_until(ws, 'role="alert"')
    await ws.disconnect()


async def test_recording_a_new_starting_point(upstream):
    ws = await staff_socket()
    await receive_until(ws, 'id="reconciliation"')
    await ws.send_to(text_data=json.dumps({"action": "record_starting_point"}))
    frame = await receive_until(ws, 'id="reconciliation"')
    assert "This is the starting point" in frame
    await ws.send_to(text_data=json.dumps({"action": "check_balance"}))
    assert "Matches" in await receive_until(ws, 'id="reconciliation"')
    starting_points = await database_sync_to_async(BalanceReading.objects.filter(is_starting_point=True).count)()
    assert starting_points == 2  # the automatic first one, then the one asked for
    await ws.disconnect()


async def test_a_demoted_staff_member_can_no_longer_change_budgets(upstream):
    alice = await acreate_user("alice")
    ws = await staff_socket()
    await receive_until(ws, 'id="reconciliation"')
    await database_sync_to_async(User.objects.filter(username="sam").update)(is_staff=False)
    await ws.send_to(text_data=json.dumps({"action": "set_budget", "kind": "member", "pk": str(alice.pk),
                                           "monthly_budget": "1000"}))
    assert (await ws.receive_output(timeout=5))["type"] == "websocket.close"
    assert (await database_sync_to_async(User.objects.get)(pk=alice.pk)).monthly_budget is None


async def test_the_balance_can_be_read_without_javascript(upstream, async_client):
    staff = await acreate_user("sam", is_staff=True)
    await async_client.aforce_login(staff)
    response = await async_client.post("/spend/balance/", {"starting_point": "1"})
    assert response.status_code == 302 and response["Location"] == "/spend/#reconciliation"
    reading = await database_sync_to_async(BalanceReading.objects.get)()
    assert reading.is_starting_point and reading.taken_by_id == staff.pk
    page = (await async_client.get("/spend/")).content.decode()
    assert "Recorded a new starting point." in page
