"""ASGI entry point: Daphne serves HTTP (Django) and WebSockets (Channels consumers).

Every WebSocket passes the Origin check (Django's CSRF middleware does not run for sockets) and
the session-auth middleware; consumers refuse anonymous users themselves.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "runware_web.settings")
django_asgi_app = get_asgi_application()  # before importing anything that imports models

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from runware_web.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
