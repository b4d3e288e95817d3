"""Budget alerts: a member's or a team's spend in its budget period reached 50, 80 or 100 % of its
budget, and the people and the team's webhook are told, once per threshold and period.

Finding them. `money.ledger.record_charges` calls `after_charges` once its trip has committed
(`transaction.on_commit`), with the members and teams it charged; it hands them to the delivery
loop (below) of the runner that charged them, which checks them at once on its own thread. `check`
sums their charges in their period from the ledger rows, and records a `BudgetAlert` for each
threshold reached that has none yet in the period. Two workers recording charges for one team at
once both check after their own commit, so the later one sees both charges: a crossing is never
missed for want of seeing the other's row, and the unique constraints on (member or team, period,
its first day, threshold) keep one alert whoever records it first. Should a worker die between its
commit and its check, the next charge of that member or team in the period finds the threshold
reached and records it then.

Telling. An alert's `AlertDelivery` rows (the outbox: an email to the member for their own budget
and to their team's admins, and a POST to the team's webhook) are written in the alert's own
transaction; nothing is sent there. Each worker's runner runs `deliver_forever`, which sends what
is due at once when this worker made it, and every settings.RUNWARE_ALERT_RETRY_SECONDS otherwise,
so that rows left by a worker that stopped or a receiver that was down are sent later. A worker
claims a row with a conditional update before sending it, so two workers never send one row; one
that fails is tried again after a doubling wait and given up after RUNWARE_ALERT_GIVE_UP_HOURS. All
of it happens on a thread of its own, after the charge is committed: no task waits for an alert or
fails because of one.

One charge may reach two thresholds at once (from 40 % to 85 %): both are recorded, and only the
higher one is sent, so nobody gets "50 %" and "80 %" in the same minute.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import urllib.error
import urllib.request
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from channels.db import database_sync_to_async
from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, connections, transaction
from django.db.models import Prefetch, Q
from django.utils import timezone

from runware_web.accounts.models import Role, Team, User, shortened_url
from runware_web.lib import loops
from runware_web.lib.money import usd
from runware_web.money import reports
from runware_web.money.models import AlertDelivery, BudgetAlert, Charge

log = logging.getLogger(__name__)

THRESHOLDS = (50, 80, 100)  # per cent of a budget
ROUND_SIZE = 50  # deliveries one round sends at most (the next round follows at once when woken)
LONGEST_WAIT = 3600.0  # seconds between two attempts of one delivery, at most

Scope = BudgetAlert.Scope


# ------------------------------------------------------------------------------ finding them


def after_charges(user_ids: Iterable[int], team_ids: Iterable[int | None]) -> None:
    """The ledger's hook, run once the charges are committed (on the runner's database thread).

    Where the runner that charged runs a delivery loop, the check is handed to it, so that the
    runner's writes never wait for it: the check is four queries, one a sum of the period's charges
    (1.5 ms for 4,400 charges on SQLite), where a trip of one charge takes 0.4 ms. Otherwise (a
    command, a test, a runner whose loop has none) it is made here. Never to another loop's: that
    one's thread would go on checking after this runner has stopped (lib.loops)."""
    loop = loops.served()
    delivery = _delivery_loops.get(loop) if loop is not None else None
    if delivery is None:
        if check(user_ids, team_ids):
            wake()
        return
    with _queued_lock:
        asleep = not delivery.members and not delivery.teams  # else a round is already called for
        delivery.members.update(user_ids)
        delivery.teams.update(team_ids)
    if asleep:
        delivery.wake()


def check(user_ids: Iterable[int], team_ids: Iterable[int | None]) -> list[BudgetAlert]:
    """Record the alerts these members' and teams' spend has reached and that are not recorded yet
    in their period; the new ones (those to send, each with its deliveries)."""
    reached = [*_reached_by_members(set(user_ids)), *_reached_by_teams({pk for pk in team_ids if pk})]
    return [alert for alert in _highest_each(reached) if _record(alert, reached)]


@dataclass(frozen=True)
class _Holder:
    """A budget and what it covers: a member's own or a team's."""

    scope: str
    pk: int
    team_id: int | None
    budget: Decimal
    period: reports.Period


def _reached_by_members(user_ids: set[int]) -> list[BudgetAlert]:
    if not user_ids:
        return []
    holders = []
    for user in User.objects.filter(pk__in=user_ids).only("pk", "team_id", "monthly_budget", "budget_period"):
        budget = reports.user_budget(user)
        if budget is not None and budget > 0:
            holders.append(
                _Holder(
                    Scope.MEMBER, user.pk, user.team_id, budget, reports.budget_period(user.budget_period)
                )
            )
    return _reached(holders, "user_id")


def _reached_by_teams(team_ids: set[int]) -> list[BudgetAlert]:
    if not team_ids:
        return []
    teams = Team.objects.filter(pk__in=team_ids, monthly_budget__gt=0).only(
        "pk", "monthly_budget", "budget_period"
    )
    holders = [
        _Holder(Scope.TEAM, team.pk, team.pk, team.monthly_budget, reports.budget_period(team.budget_period))
        for team in teams
    ]
    return _reached(holders, "team_id")


def _reached(holders: list[_Holder], column: str) -> list[BudgetAlert]:
    """Unsaved alerts for every threshold each holder's spend has reached and that has no alert yet."""
    if not holders:
        return []
    spent: dict[int, Decimal] = {}
    for period in {holder.period for holder in holders}:  # one sum per kind of period in use
        pks = [holder.pk for holder in holders if holder.period == period]
        charges = Charge.objects.filter(**{f"{column}__in": pks}, created_at__gte=period.start)
        spent.update({pk: group.total for pk, group in reports.grouped(charges, column).items()})
    candidates = [
        _alert(holder, threshold, spent[holder.pk])
        for holder in holders
        if holder.pk in spent
        for threshold in THRESHOLDS
        if spent[holder.pk] * 100 >= holder.budget * threshold
    ]
    if not candidates:
        return []
    recorded = _recorded(candidates)
    return [alert for alert in candidates if _key(alert) not in recorded]


def _alert(holder: _Holder, threshold: int, spent: Decimal) -> BudgetAlert:
    return BudgetAlert(
        scope=holder.scope,
        user_id=holder.pk if holder.scope == Scope.MEMBER else None,
        team_id=holder.team_id,
        period=holder.period.key,
        period_start=holder.period.first,
        threshold=threshold,
        budget=holder.budget,
        spent=spent,
    )


def _key(alert: BudgetAlert) -> tuple:
    subject = alert.user_id if alert.scope == Scope.MEMBER else alert.team_id
    return alert.scope, subject, alert.period, alert.period_start, alert.threshold


def _recorded(candidates: list[BudgetAlert]) -> set[tuple]:
    """The keys of the candidates' alerts already recorded (one query)."""
    users = {alert.user_id for alert in candidates if alert.scope == Scope.MEMBER}
    teams = {alert.team_id for alert in candidates if alert.scope == Scope.TEAM}
    starts = {alert.period_start for alert in candidates}
    rows = BudgetAlert.objects.filter(
        Q(scope=Scope.MEMBER, user_id__in=users) | Q(scope=Scope.TEAM, team_id__in=teams),
        period_start__in=starts,
    ).values_list("scope", "user_id", "team_id", "period", "period_start", "threshold")
    return {
        (scope, user_id if scope == Scope.MEMBER else team_id, period, start, threshold)
        for scope, user_id, team_id, period, start, threshold in rows
    }


def _highest_each(alerts: list[BudgetAlert]) -> list[BudgetAlert]:
    """The highest new threshold of each member and team (the one worth telling)."""
    highest: dict[tuple, BudgetAlert] = {}
    for alert in alerts:
        subject = _key(alert)[:4]
        if subject not in highest or alert.threshold > highest[subject].threshold:
            highest[subject] = alert
    return list(highest.values())


def _record(alert: BudgetAlert, reached: list[BudgetAlert]) -> bool:
    """Save the alert, the lower thresholds it passed on the way, and its deliveries, in one
    transaction; False when another worker recorded it first (nothing of it is kept then)."""
    passed = [other for other in reached if _key(other)[:4] == _key(alert)[:4] and other is not alert]
    try:
        with transaction.atomic():
            alert.save(force_insert=True)  # the highest first, in every worker: none waits on another's lower
            for lower in passed:
                _save_unless_recorded(lower)
            AlertDelivery.objects.bulk_create(_deliveries(alert))
    except IntegrityError:
        return False
    log.info("Budget alert: %s", _headline(alert))
    return True


def _save_unless_recorded(alert: BudgetAlert) -> None:
    """A lower threshold passed on the way: another worker may have just recorded (and sent) it."""
    try:
        with transaction.atomic():
            alert.save(force_insert=True)
    except IntegrityError:
        pass


def _deliveries(alert: BudgetAlert) -> list[AlertDelivery]:
    """An email to the member (their own budget) and to each admin of the team, and the team's webhook."""
    addresses: dict[str, str] = {}
    if alert.scope == Scope.MEMBER:
        email = User.objects.filter(pk=alert.user_id, is_active=True).values_list("email", flat=True).first()
        if email:
            addresses[email.lower()] = email
    if alert.team_id:
        admins = User.objects.filter(team_id=alert.team_id, role=Role.TEAM_ADMIN, is_active=True).exclude(
            email=""
        )
        for email in admins.values_list("email", flat=True):
            addresses.setdefault(email.lower(), email)
    rows = [
        AlertDelivery(alert=alert, channel=AlertDelivery.Channel.EMAIL, recipient=email)
        for email in addresses.values()
    ]
    webhook = Team.objects.filter(pk=alert.team_id).values_list("alert_webhook_url", flat=True).first()
    if webhook:
        rows.append(
            AlertDelivery(
                alert=alert, channel=AlertDelivery.Channel.WEBHOOK, recipient=shortened_url(webhook)
            )
        )
    return rows


# ------------------------------------------------------------------------------ what they say


def _subject_name(alert: BudgetAlert) -> str:
    if alert.scope == Scope.TEAM:
        return f"team {alert.team.name}"
    return alert.user.get_username()


def _headline(alert: BudgetAlert) -> str:
    """ "alice reached 80 % of the monthly budget: $8.10 of $10.00 spent this month." """
    whose = "its" if alert.scope == Scope.TEAM else "the"
    adjective = reports.PERIOD_ADJECTIVES.get(alert.period, "monthly")
    span = reports.PERIOD_SPANS.get(alert.period, "this month")
    return (
        f"{_subject_name(alert)} reached {alert.threshold} % of {whose} {adjective} budget: "
        f"{usd(alert.spent)} of {usd(alert.budget)} spent {span}."
    )


def _consequence(alert: BudgetAlert) -> str:
    if alert.threshold >= 100:
        return "Tasks that would go past the budget are refused until it starts again or is raised."
    return "Tasks go on as usual; those that would go past the budget will be refused."


def email_text(alert: BudgetAlert) -> tuple[str, str]:
    """The subject and text of an alert's email."""
    subject = f"Budget alert: {_subject_name(alert)} reached {alert.threshold} % of the budget"
    where = (
        "Team admins see and change budgets on the Team pages (/team/); members see their spend on "
        "their Usage page (/account/usage/)."
    )
    body = (
        f"{_headline(alert)}\n\n{_consequence(alert)}\n"
        f"The budget period started on {alert.period_start:%d %B %Y}.\n\n{where}\n"
    )
    return subject, body


def webhook_body(alert: BudgetAlert) -> dict:
    """Slack-compatible JSON: `text` for any receiver, and one section block for Slack."""
    text = f"Budget alert: {_headline(alert)} {_consequence(alert)}"
    team = f" · team {alert.team.name}" if alert.team_id and alert.scope == Scope.MEMBER else ""
    return {
        "text": _slack_escaped(text),
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": _slack_escaped(text)}},
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": _slack_escaped(
                            f"runware-web · {alert.threshold} % · period from {alert.period_start:%Y-%m-%d}{team}"
                        ),
                    }
                ],
            },
        ],
    }


def _slack_escaped(text: str) -> str:
    """Slack reads <…> as links and mentions: names are shown as typed, never as markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# ------------------------------------------------------------------------------ sending


def deliver_due(*, now: datetime | None = None, limit: int = ROUND_SIZE) -> int:
    """One round: claim and send the deliveries that are due; how many were sent."""
    now = now or timezone.now()
    due = AlertDelivery.objects.filter(status=AlertDelivery.Status.PENDING, next_attempt_at__lte=now)
    sent = 0
    for pk, due_at in due.order_by("next_attempt_at", "pk").values_list("pk", "next_attempt_at")[:limit]:
        delivery = _claim(pk, due_at, now)
        if delivery is not None:
            sent += _attempt(delivery, now)
    return sent


def _claim_seconds() -> float:
    """How long a worker holds a delivery it sends: longer than any send may take."""
    return max(60.0, 3 * (settings.RUNWARE_ALERT_WEBHOOK_TIMEOUT + settings.EMAIL_TIMEOUT))


def _claim(pk: int, due_at: datetime, now: datetime) -> AlertDelivery | None:
    """Take the delivery for this worker (None: another took it): its due time moves to the end of
    the claim, so a worker that dies while sending leaves it due again then."""
    claimed = AlertDelivery.objects.filter(
        pk=pk, status=AlertDelivery.Status.PENDING, next_attempt_at=due_at
    ).update(next_attempt_at=now + timedelta(seconds=_claim_seconds()))
    if not claimed:
        return None
    return AlertDelivery.objects.select_related("alert__user", "alert__team").get(pk=pk)


def _attempt(delivery: AlertDelivery, now: datetime) -> int:
    try:
        target = _send(delivery)
    except Exception as exc:
        error = _error_text(exc)
        give_up = now - delivery.created_at >= timedelta(hours=settings.RUNWARE_ALERT_GIVE_UP_HOURS)
        retry_at = None if give_up else now + timedelta(seconds=_backoff(delivery.attempts + 1))
        delivery.failed(error, retry_at=retry_at)
        log.warning(
            "Budget alert %s by %s was not taken (%s); %s.",
            delivery.alert_id,
            delivery.channel,
            error,
            "given up" if give_up else f"trying again at {retry_at:%H:%M:%S}",
        )
        return 0
    delivery.sent(target)
    return 1


def _backoff(attempts: int) -> float:
    return min(settings.RUNWARE_ALERT_RETRY_SECONDS * 2 ** min(attempts - 1, 20), LONGEST_WAIT)


class NotTaken(Exception):
    """The receiver answered, but not with success (or there is no receiver any more)."""


def _send(delivery: AlertDelivery) -> str:
    """Send one delivery; where it went (as shown on the page). Raises when it was not taken."""
    alert = delivery.alert
    if delivery.channel == AlertDelivery.Channel.EMAIL:
        subject, body = email_text(alert)
        send_mail(subject, body, None, [delivery.recipient], fail_silently=False)
        return delivery.recipient
    url = alert.team.alert_webhook_url if alert.team else ""  # the address set now, should it have changed
    if not url:
        raise NotTaken("the team has no webhook any more")
    post_json(url, webhook_body(alert))
    return shortened_url(url)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # a redirect is an answer, not a success
        return None


_opener = urllib.request.build_opener(_NoRedirects)


def post_json(url: str, body: dict) -> None:
    """POST `body` as JSON; raises unless the receiver answers 2xx within the timeout."""
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "runware-web budget alerts"},
    )
    with _opener.open(request, timeout=settings.RUNWARE_ALERT_WEBHOOK_TIMEOUT) as answer:
        if not 200 <= answer.status < 300:
            raise NotTaken(f"HTTP {answer.status}")


def _error_text(exc: BaseException) -> str:
    """What went wrong, for the page: short, and never the webhook's address (its path is a secret)."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"the receiver answered HTTP {exc.code} {exc.reason}"[:300]
    if isinstance(exc, urllib.error.URLError):
        return f"could not reach the receiver: {exc.reason}"[:300]
    if isinstance(exc, TimeoutError):
        return "the receiver did not answer in time"
    return f"{type(exc).__name__}: {exc}"[:300]


# ------------------------------------------------------------------------------ the delivery loop


#: The least time between two rounds of one loop: under a stream of charges (a script running tasks
#: back to back), the members and teams charged meanwhile are checked together, twice a second,
#: rather than once per charge (each check sums the period's charges).
ROUND_GAP_SECONDS = 0.5

@dataclass
class Delivery:
    """One event loop's delivery loop, and the members and teams its runner charged since its last
    round (handed over by after_charges)."""

    loop: asyncio.AbstractEventLoop
    event: asyncio.Event
    members: set[int] = field(default_factory=set)
    teams: set[int | None] = field(default_factory=set)

    def wake(self) -> None:
        """Have it run a round now (from any thread)."""
        with contextlib.suppress(RuntimeError):  # that loop has closed
            self.loop.call_soon_threadsafe(self.event.set)


_delivery_loops: dict[asyncio.AbstractEventLoop, Delivery] = {}
_queued_lock = threading.Lock()


def check_queued(delivery: Delivery) -> list[BudgetAlert]:
    """Check the members and teams a delivery loop's runner charged since its last round."""
    with _queued_lock:
        user_ids, team_ids = set(delivery.members), set(delivery.teams)
        delivery.members.clear()
        delivery.teams.clear()
    return check(user_ids, team_ids) if user_ids or team_ids else []


def _round(delivery: Delivery) -> int:
    """One round of the delivery loop: the checks handed over, then what is due."""
    try:
        check_queued(delivery)
    except Exception:  # the next charge of these members or teams checks them again
        log.warning("Checking budgets for alerts failed.", exc_info=True)
    return deliver_due()


def wake() -> None:
    """Have this process's delivery loops send what is due now (from any thread)."""
    for delivery in list(_delivery_loops.values()):
        delivery.wake()


async def deliver_forever() -> None:
    """Check the budgets of whom this worker charged and send what is due, at once after a charge
    (rounds at least ROUND_GAP_SECONDS apart), and every RUNWARE_ALERT_RETRY_SECONDS, for as long
    as the runner runs. It all happens
    on a thread of its own: neither the runner's database thread nor a request ever waits for a
    budget check, a mail server or a webhook."""
    event = asyncio.Event()
    loop = asyncio.get_running_loop()
    delivery = _delivery_loops[loop] = Delivery(loop, event)
    sender = ThreadPoolExecutor(max_workers=1, thread_name_prefix="runware-alerts")
    round_ = database_sync_to_async(_round, thread_sensitive=False, executor=sender)
    try:
        while True:
            event.clear()
            began = loop.time()
            try:
                await round_(delivery)
            except Exception:
                log.warning("Sending the budget alerts that are due failed; trying again.", exc_info=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), settings.RUNWARE_ALERT_RETRY_SECONDS)
            await asyncio.sleep(began + ROUND_GAP_SECONDS - loop.time())  # (none if the round was long ago)
    finally:
        if _delivery_loops.get(loop) is delivery:
            del _delivery_loops[loop]
        # Cancelled (the runner stops): a round under way goes on in its thread, so the loop waits for
        # it, and its connection goes back after it. Nothing of a stopped worker may still be writing
        # an alert (a database being emptied or migrated would meet that transaction).
        closed = loop.run_in_executor(sender, connections.close_all)
        sender.shutdown(wait=False)
        await closed


# ------------------------------------------------------------------------------ for the team pages


def recent_alerts(team: Team, limit: int = 20) -> list[BudgetAlert]:
    """The team's latest alerts that were sent to someone (its own and its members'), newest first,
    each with its deliveries."""
    deliveries = Prefetch("deliveries", queryset=AlertDelivery.objects.order_by("channel", "recipient", "pk"))
    sent_to_someone = BudgetAlert.objects.filter(team=team, deliveries__isnull=False).values("pk")
    return list(
        BudgetAlert.objects.filter(pk__in=sent_to_someone)
        .select_related("user", "team")
        .prefetch_related(deliveries)
        .order_by("-created_at", "-pk")[:limit]
    )
