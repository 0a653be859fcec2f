"""ASGI entry point: websockets through Channels' router, HTTP through Django's WSGI handler on a
fixed pool of threads (kanban/http.py).

Every view here is synchronous. Django's ASGI handler runs each request's middleware and view in
a thread it starts for that request and hops between that thread and the event loop several
times per request: on this machine it served a trivial DRF endpoint at ~700 requests/s where the
same app through the WSGI handler on a thread pool served ~2,800 (bench/RESULTS.md). Django is
set up before anything imports models (the websocket routes import consumers).
"""

import asyncio
import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kanban.settings")
django_wsgi_app = get_wsgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from accounts.authentication import TokenAuthMiddleware  # noqa: E402
from kanban import publisher  # noqa: E402
from kanban.http import ThreadedWSGI  # noqa: E402
from kanban.routing import websocket_urlpatterns  # noqa: E402
from kanban.websocket import origin_checked  # noqa: E402

router = ProtocolTypeRouter(
    {
        "http": ThreadedWSGI(
            django_wsgi_app,
            threads=settings.WEB_THREADS,
            stream_threads=settings.WEB_STREAM_THREADS,
        ),
        "websocket": origin_checked(
            AuthMiddlewareStack(TokenAuthMiddleware(URLRouter(websocket_urlpatterns)))
        ),
    }
)


async def application(scope, receive, send):
    """The router, plus ASGI's lifespan: at startup the publisher learns this process's event
    loop (the in-memory channel layer lives on it), so that nothing below imports the server."""
    if scope["type"] != "lifespan":
        return await router(scope, receive, send)
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            publisher.use_server_loop(asyncio.get_running_loop())
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


# Everything loaded so far lives as long as the process: keep the collector from walking it again
# on every full collection (the Python docs' advice for servers; a few % of a move's CPU here).
gc.collect()
gc.freeze()
