"""Every WebSocket route of the portal, as one flat list (nested URLRouters break `path()`)."""

from runware_web.audio.routing import websocket_urlpatterns as audio_routes
from runware_web.chat.routing import websocket_urlpatterns as chat_routes
from runware_web.spend.routing import websocket_urlpatterns as spend_routes
from runware_web.studio.routing import websocket_urlpatterns as studio_routes
from runware_web.threed.routing import websocket_urlpatterns as threed_routes
from runware_web.tools.routing import websocket_urlpatterns as tools_routes
from runware_web.video.routing import websocket_urlpatterns as video_routes

websocket_urlpatterns = [*studio_routes, *chat_routes, *tools_routes, *spend_routes, *video_routes,
                         *audio_routes, *threed_routes]
