"""The model search page and the studio's model picker: async HTTP views returning partials.

Full pages for a plain request (or an htmx history restore), the changed region for htmx. The
query lives in the URL (`/models/?search=flux&category=checkpoint&page=2`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode

from channels.db import database_sync_to_async
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe
from django_htmx.http import trigger_client_event

from runware_web.accounts.http import AuthenticatedHttpRequest
from runware_web.accounts.models import Team, User
from runware_web.catalog.forms import PICKER_SIZE, ModelPickerForm, ModelSearchForm
from runware_web.catalog.recent import recent_models
from runware_web.catalog.search import CatalogModel, SearchPage, describe, describe_many, search_models
from runware_web.lib.air import is_air
from runware_web.live.render import partial_for, render_page
from runware_web.upstream.errors import UpstreamError

#: An htmx search (the form's fields changed, a page link) swaps only the results.
RESULTS = {"model-results": "results"}


def _page_query(request: HttpRequest, page: int) -> str:
    """The current search's query string on another page (empty fields left out)."""
    query = [(key, value) for key, value in request.GET.items() if value and key != "page"]
    if page > 1:
        query.append(("page", str(page)))
    return urlencode(query)


@require_safe
async def index(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = ModelSearchForm(request.GET)
    page: SearchPage | None = None
    error: UpstreamError | None = None
    if form.is_valid():
        try:
            page = await search_models(form.params())
        except UpstreamError as exc:
            error = exc
            if exc.parameter in form.fields and not form.fields[exc.parameter].widget.is_hidden:
                form.add_error(exc.parameter, exc.message)
    context: dict[str, Any] = {"form": form, "page": page, "error": error}
    if page is not None:
        context["previous_query"] = _page_query(request, page.number - 1)
        context["next_query"] = _page_query(request, page.number + 1)
        context["first_query"] = _page_query(request, 1)
    context["oob"] = partial_for(request, RESULTS) is not None  # the results carry the field messages along
    return render_page(request, "catalog/index.html", context, partials=RESULTS)


@require_safe
async def picker(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The picker's list: the member's recent models first, then Runware's matches; only those their
    team's model rules allow (admission refuses the others anyway, saying why)."""
    form = ModelPickerForm(request.GET)
    text = form.cleaned_data["model"] if form.is_valid() else ""
    browsing = not text or is_air(text)  # an AIR is a choice already: offer everything again
    recent = await describe_many(await database_sync_to_async(recent_models)(request.user))
    if not browsing:
        recent = [model for model in recent if _matches(model, text)]
    params: dict[str, Any] = {"category": "checkpoint", "limit": PICKER_SIZE, "offset": 0}
    params.update({"sort": "-popularity"} if browsing else {"search": text.lower()})
    results: list[CatalogModel] = []
    error: UpstreamError | None = None
    try:
        listed = {model.air for model in recent}
        results = [model for model in (await search_models(params)).models if model.air not in listed]
    except UpstreamError as exc:
        error = exc
    rules = await database_sync_to_async(_rules_of)(request.user)
    if rules is not None:
        recent = [model for model in recent if rules.allows_model(model.air)]
        results = [model for model in results if rules.allows_model(model.air)]
    context = {
        "text": text,
        "browsing": browsing,
        "recent": recent,
        "results": results,
        "error": error,
        "too_long": not form.is_valid(),
        "chosen": await _chosen(text, known=[*recent, *results]),
    }
    return render(request, "catalog/index.html#picker-options", context)


@require_safe
async def picker_choose(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The picker again, with a model chosen; tells the page which defaults that model suggests."""
    form = ModelPickerForm(request.GET)
    air = form.cleaned_data["model"] if form.is_valid() else ""
    chosen = await _chosen(air)
    field = ModelPickerForm(initial={"model": air})["model"]
    response = render(request, "catalog/index.html#picker-widget", {"field": field, "chosen": chosen})
    if isinstance(chosen, CatalogModel):
        trigger_client_event(response, "modelChosen", {"air": chosen.air, "name": chosen.name,
                                                       "defaults": chosen.studio_defaults})
    return response


@require_safe
async def picker_chosen(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The chosen model's name beside its AIR (loaded lazily when the page did not know it)."""
    form = ModelPickerForm(request.GET)
    air = form.cleaned_data["model"] if form.is_valid() else ""
    return render(request, "catalog/index.html#picker-chosen", {"air": air, "chosen": await _chosen(air)})


async def _chosen(text: str, known: Iterable[CatalogModel] = ()) -> CatalogModel | str:
    """What the picker's value is: a model, or "" (nothing), "text" (search words, not a model
    yet), "unknown" (an AIR Runware does not list) or "unreachable" (Runware cannot say now)."""
    if not text:
        return ""
    if not is_air(text):
        return "text"
    for model in known:
        if model.air == text:
            return model
    try:
        return await describe(text) or "unknown"
    except UpstreamError:
        return "unreachable"


def _rules_of(user: User) -> Team | None:
    """The member's team when it has an allow-list of models (read afresh: an admin may just have set it)."""
    if user.team_id is None:
        return None
    return Team.objects.filter(pk=user.team_id).exclude(allowed_models="").only("allowed_models").first()


def _matches(model: CatalogModel, text: str) -> bool:
    haystack = f"{model.air} {model.name} {model.architecture}".lower()
    return all(term in haystack for term in text.lower().split())
