"""ASGI entry point: Daphne serves HTTP (Django) and WebSockets (Channels consumers).

Every HTTP request passes the body size limit first (`lib.limits.BodySizeLimit`: 413 above
REQUEST_MAX_BYTES, before the body is read), and Daphne is told not to parse form bodies itself
(`lib.limits.forms_left_unparsed`: Twisted would hold about 13 copies of an upload). Every WebSocket
passes the Origin check (Django's CSRF middleware does not run for sockets) and the session-auth
middleware; consumers refuse anonymous users themselves.
"""

import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "runware_web.settings")
django_asgi_app = get_asgi_application()  # before importing anything that imports models

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from runware_web.endpoint.routing import alongside  # noqa: E402
from runware_web.lib.limits import BodySizeLimit, forms_left_unparsed  # noqa: E402
from runware_web.routing import websocket_urlpatterns  # noqa: E402
from runware_web.runner import runner  # noqa: E402

forms_left_unparsed()
# The runner starts with the worker, not with its first socket: a worker that serves nobody yet
# still holds its lease and takes over the tasks of workers that died.
runner.start_with_server()

application = ProtocolTypeRouter(
    {
        "http": BodySizeLimit(django_asgi_app),
        # /v1 is Runware's protocol for scripts (a key, no cookie, no Origin): see endpoint.routing.
        "websocket": alongside(AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))),
    }
)
# What is loaded by now (Django, the apps, their modules) lives as long as the worker: out of the
# collector's sight, a full collection walks only what the worker made since, and takes a
# millisecond or two instead of the 30 to 50 ms it took in the endpoint benchmark, every socket of the
# worker waiting meanwhile (Python's docs on gc.freeze; it matters most where workers fork).
gc.freeze()
