from typing import TYPE_CHECKING

from django.urls import path

from boards.live.consumers import BoardConsumer, OrgConsumer

if TYPE_CHECKING:
    from channels.routing import URLRouter, _ExtendedURLPattern

# Typed as what URLRouter takes (channels-stubs' pattern type, private). Channels routes ASGI
# applications through Django's path(), which django-stubs types for views only.
websocket_urlpatterns: "list[_ExtendedURLPattern | URLRouter]" = [
    path("ws/boards/<int:board_id>/", BoardConsumer.as_asgi()),  # type: ignore[arg-type, list-item]
    path("ws/orgs/<slug:slug>/", OrgConsumer.as_asgi()),  # type: ignore[arg-type, list-item]
]
