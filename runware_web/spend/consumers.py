"""`/ws/spend/`: the staff spend page's socket. Staff only.

It joins the staff spend group; whenever a charge is committed (the runner rings that bell) it
re-renders the page's live regions (totals, chart, members, teams, breakdowns, newest charges) for
the period the page shows, which comes in the socket's query string. Bursts of charges are
coalesced into as few renders as the page can use. Budget forms and the balance buttons are sent
over the same socket; each has a plain POST fallback that validates with the same form.
"""

from __future__ import annotations

import asyncio
from typing import Any

from channels.db import database_sync_to_async
from django.http import QueryDict
from django.template.loader import render_to_string

from runware_web.accounts import audit
from runware_web.accounts.models import Team, User
from runware_web.lib.groups import STAFF_SPEND_GROUP
from runware_web.live.consumers import PortalConsumer
from runware_web.money import reconcile
from runware_web.spend.forms import BudgetForm, PeriodForm
from runware_web.spend.views import dashboard_context
from runware_web.upstream.errors import UpstreamError

LIVE_PARTIALS = ("summary", "chart", "members", "teams", "breakdowns", "newest")


def render_live(query: str) -> str:
    """The page's live regions, each a top-level element swapped by its id."""
    context = dashboard_context(PeriodForm(QueryDict(query) or None))
    return "".join(render_to_string(f"spend/index.html#{name}", context) for name in LIVE_PARTIALS)


def render_reconciliation(error: str = "") -> str:
    return render_to_string(
        "spend/index.html#reconciliation", {"reconciliation": reconcile.current(), "balance_error": error}
    )


def is_still_staff(user_id: int) -> bool:
    """The socket was opened by staff; check again before changing anything (they may have been demoted)."""
    return User.objects.filter(pk=user_id, is_staff=True, is_active=True).exists()


def save_budget(data: dict[str, Any], *, by: User, address: str | None = None) -> tuple[bool, str]:
    """Validate and save a budget sent over the socket: (saved?, the form re-rendered)."""
    model = Team if data.get("kind") == "team" else User
    try:
        target = model.objects.get(pk=int(data.get("pk", "")))
    except (model.DoesNotExist, TypeError, ValueError):
        return False, ""
    form = BudgetForm(data, target=target)
    saved = form.is_valid()
    if saved:
        form.save(by=by, address=address)
        form = BudgetForm(target=target)
    return saved, render_to_string("spend/index.html#budget-row", {"form": form, "saved": saved})


class SpendConsumer(PortalConsumer):
    features = ()

    _refresher: asyncio.Task[None] | None = None
    _stale = False

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_staff:
            await self.close()  # the page is staff only; members never get its socket either
            return
        await super().connect()

    async def on_connected(self) -> None:
        self.query = self.scope.get("query_string", b"").decode("ascii", "replace")
        await self.channel_layer.group_add(STAFF_SPEND_GROUP, self.channel_name)
        await self.send_html(await database_sync_to_async(render_live)(self.query))
        await self.read_balance(starting_point=False)

    async def disconnect(self, code: int) -> None:
        if self._refresher is not None:
            self._refresher.cancel()
        await self.channel_layer.group_discard(STAFF_SPEND_GROUP, self.channel_name)
        await super().disconnect(code)

    # ------------------------------------------------------------------ the ledger changed

    async def spend_changed(self, event: dict[str, Any]) -> None:
        self._stale = True
        if self._refresher is None or self._refresher.done():
            self._refresher = asyncio.ensure_future(self._refresh())

    async def _refresh(self) -> None:
        while self._stale:
            self._stale = False
            await self.send_html(await database_sync_to_async(render_live)(self.query))

    # ------------------------------------------------------------------ actions from the page

    async def action_set_budget(self, data: dict[str, Any]) -> None:
        if not await database_sync_to_async(is_still_staff)(self.user.pk):
            await self.close(code=4403)
            return
        saved, html = await database_sync_to_async(save_budget)(
            data, by=self.user, address=audit.address_of_scope(self.scope))
        if not html:
            await self.send_error("That member or team no longer exists. Reload the page.")
            return
        await self.send_html(html)
        if saved:
            await self.send_html(await database_sync_to_async(render_live)(self.query))

    async def action_check_balance(self, data: dict[str, Any]) -> None:
        await self.read_balance(starting_point=False)

    async def action_record_starting_point(self, data: dict[str, Any]) -> None:
        await self.read_balance(starting_point=True)

    async def read_balance(self, *, starting_point: bool) -> None:
        error = ""
        try:
            await reconcile.take_reading(user=self.user, starting_point=starting_point)
        except UpstreamError as exc:
            error = exc.message
        await self.send_html(await database_sync_to_async(render_reconciliation)(error))
