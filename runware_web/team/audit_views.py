"""The audit log's page and its CSV: staff read every entry, a team admin their own team's.

For anyone else the page does not exist (404). A team admin's filters can only narrow their own
team's entries: there is no team filter for them, and `audit.visible_to` is applied first.
The CSV is sent as it is read, a thousand rows per query, so a long log never sits in memory.
"""

from __future__ import annotations

import csv
from collections.abc import AsyncIterator, Iterator
from datetime import UTC

from asgiref.sync import sync_to_async
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.utils import timezone
from django.views.decorators.http import require_safe

from runware_web.accounts import audit
from runware_web.accounts.http import AuthenticatedHttpRequest
from runware_web.accounts.models import AuditEntry, User
from runware_web.live.render import render_page
from runware_web.team.forms import AuditFilterForm

PAGE_SIZE = 100
CSV_BATCH = 1000
CSV_HEADER = ["when (UTC)", "who", "what", "concerning", "before", "after", "team", "address"]


@require_safe
def audit_log(request: AuthenticatedHttpRequest) -> HttpResponse:
    form, entries = _filtered(request)
    before = request.GET.get("before", "")
    if before.isdigit():
        entries = entries.filter(pk__lt=int(before))
    page = list(entries.order_by("-pk")[: PAGE_SIZE + 1])
    query = request.GET.copy()
    query.pop("before", None)
    context = {
        "form": form,
        "entries": page[:PAGE_SIZE],
        "older": page[PAGE_SIZE - 1].pk if len(page) > PAGE_SIZE else None,
        "query": query.urlencode(),
        "is_staff": request.user.is_staff,
    }
    status = 400 if form.errors and not request.htmx else 200
    return render_page(request, "team/audit.html", context, partials={"audit-log": "audit-log"}, status=status)


@require_safe
def audit_csv(request: AuthenticatedHttpRequest) -> HttpResponse:
    form, entries = _filtered(request)
    if form.errors:
        problems = "; ".join(f"{form.fields[name].label if name in form.fields else name}: {' '.join(errs)}"
                             for name, errs in form.errors.items())
        return HttpResponse(f"Could not export: {problems}", status=400, content_type="text/plain; charset=utf-8")
    response = StreamedText(_csv_batches(entries), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="runware-audit-{timezone.now():%Y%m%d-%H%M}.csv"'
    return response


def _filtered(request: AuthenticatedHttpRequest):
    """The filter form and the entries this person may read that match it (all of theirs if it is invalid)."""
    _readers_only(request.user)
    form = AuditFilterForm(request.GET or None, user=request.user)
    entries = audit.visible_to(request.user)
    if form.is_bound and form.is_valid():
        entries = form.apply(entries)
    elif form.is_bound:
        entries = entries.none()
    return form, entries


def _readers_only(user: User) -> None:
    if not (user.is_staff or user.is_team_admin):
        raise Http404("No such page.")


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv_batches(entries) -> Iterator[str]:
    """The CSV in pieces of CSV_BATCH rows, newest first, each piece one query (keyset on the id)."""
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_HEADER)
    last = None
    while True:
        batch = entries.order_by("-pk")
        if last is not None:
            batch = batch.filter(pk__lt=last)
        rows = list(batch[:CSV_BATCH])
        if not rows:
            return
        yield "".join(writer.writerow(_csv_row(entry)) for entry in rows)
        last = rows[-1].pk


def _csv_row(entry: AuditEntry) -> list[str]:
    cells = [entry.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
             entry.actor_name, entry.get_action_display(), entry.target, entry.before, entry.after,
             entry.team_name, entry.address or ""]
    return [_no_formula(cell) for cell in cells]


def _no_formula(text: str) -> str:
    """A cell a spreadsheet would run as a formula (a username typed as '=HYPERLINK(…)') is quoted."""
    return f"'{text}" if text[:1] in {"=", "+", "-", "@", "\t", "\r"} else text


class StreamedText(StreamingHttpResponse):
    """Under ASGI, each piece is made in the request's sync thread and sent before the next is read
    (Django's own fallback would build the whole file in memory first). Under WSGI and in the test
    client it iterates as usual."""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        pieces = iter(self.streaming_content)
        take = sync_to_async(next, thread_sensitive=True)
        while (piece := await take(pieces, None)) is not None:
            yield piece
