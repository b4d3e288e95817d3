"""A request that finds the media storage full (an upload, most often) is answered with what
happened and what to try, not with a server error.

Nothing was sent to Runware or billed: the upload is checked and stored before any task starts, and
the form the member filled in is still in their browser. Results of running tasks never come here:
the runner keeps those until there is room (runner.waiting).
"""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.deprecation import MiddlewareMixin

from runware_web.media.store import is_full

log = logging.getLogger(__name__)

MESSAGE = ("The portal's storage is full, so your file could not be saved. Nothing was sent to Runware "
           "or billed, and your settings are still on the page. Try again later, or tell an administrator.")


class StorageFullMiddleware(MiddlewareMixin):
    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not is_full(exception):
            return None
        log.error("The media storage is full: a request to %s could not store its file.", request.path)
        if getattr(request, "htmx", False):
            # A toast on the page that sent it; the form it came from stays as it is.
            response = HttpResponse(render_to_string("base.html#socket-error", {"message": MESSAGE}, request))
            response["HX-Reswap"] = "none"
            return response
        return render(request, "storage_full.html", {"message": MESSAGE}, status=507)
