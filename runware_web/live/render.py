"""A whole page, or one partial of it when htmx asks for just the region it will swap.

A page template holds its regions as `{% partialdef name inline %}`; a view names which htmx
target ids get which partial (`{"load-more": "tiles"}`) and calls `render_page`. A plain request,
boosted navigation or an htmx history restore gets the whole page, so every URL still works alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.http import HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers

from runware_web.accounts.http import AuthenticatedHttpRequest

#: Which partial answers which htmx target: element id → partial name.
Partials = Mapping[str, str]


def partial_for(request: AuthenticatedHttpRequest, partials: Partials) -> str | None:
    """The partial this request asks for by its htmx target, or None for the whole page.

    Views that can skip work a partial does not show ask this before building their context.
    """
    htmx = request.htmx
    if not htmx or htmx.boosted or htmx.history_restore_request:
        return None
    return partials.get(htmx.target or "")


def render_page(
    request: AuthenticatedHttpRequest,
    template: str,
    context: dict[str, Any],
    *,
    partials: Partials | None = None,
    status: int = 200,
) -> HttpResponse:
    """`template`, or `template#partial` when htmx targets one of `partials`' ids.

    The answer depends on the HX-Request header, so it says so in Vary (as django-htmx advises):
    a cache must not serve a fragment to a plain request or the page to htmx.
    """
    partial = partial_for(request, partials or {})
    response = render(request, f"{template}#{partial}" if partial else template, context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response
