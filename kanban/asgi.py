"""ASGI entry point: HTTP through Django, websockets through Channels' router.

Django is set up before anything imports models (the websocket routes import consumers)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kanban.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from accounts.authentication import TokenAuthMiddleware  # noqa: E402
from kanban.routing import websocket_urlpatterns  # noqa: E402
from kanban.websocket import origin_checked  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": origin_checked(
            AuthMiddlewareStack(TokenAuthMiddleware(URLRouter(websocket_urlpatterns)))
        ),
    }
)
