"""`/v1`, Runware's WebSocket API at the portal's own address.

Scripts send no Origin header and no session cookie: the route sits outside the browser sockets'
Origin check and session middleware (see `alongside`), and the key in the first frame is the
only credential the consumer accepts. Nothing the browser's cookies allow is reachable here.
"""

from __future__ import annotations

from typing import Any

from runware_web.endpoint.consumers import EndpointConsumer

PATHS = ("/v1", "/v1/")

endpoint_application = EndpointConsumer.as_asgi()


def alongside(browser_sockets: Any) -> Any:
    """An ASGI app: `/v1` to the endpoint, every other socket path to the browser sockets' stack."""

    async def route(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("path") in PATHS:
            await endpoint_application(scope, receive, send)
        else:
            await browser_sockets(scope, receive, send)

    return route
