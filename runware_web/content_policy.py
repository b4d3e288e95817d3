"""The Content-Security-Policy header: django-csp's middleware, plus the one source known only at run time.

The policy is in settings (`CONTENT_SECURITY_POLICY`): scripts and styles only from the portal or
carrying the response's nonce, images from the portal, `data:`/`blob:` (mask painting) and https.
The simulator serves its model pictures (`heroImage`) over plain http from an address that
`manage.py up` and the tests learn only once it has started (they set `RUNWARE_HTTP_URL` then), so
that origin is added per response, and only when it is plain http: https is allowed already.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from csp.middleware import CSPMiddleware, PolicyParts
from django.conf import settings
from django.http import HttpRequest, HttpResponseBase


def plain_http_origin(url: str) -> str:
    """`http://host:port` of a plain-http URL; "" for anything else (https is in the policy already)."""
    parts = urlsplit(url)
    return f"http://{parts.netloc}" if parts.scheme == "http" and parts.netloc else ""


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's middleware; img-src also names a plain-http upstream (the simulator) as it is now."""

    def get_policy_parts(
        self, request: HttpRequest, response: HttpResponseBase, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        upstream = plain_http_origin(settings.RUNWARE_HTTP_URL)
        if upstream and not report_only:
            update = dict(parts.update or {})
            update["img-src"] = [*update.get("img-src", ()), upstream]
            parts.update = update
        return parts
