from django.urls import path

from boards.live.consumers import BoardConsumer, OrgConsumer

websocket_urlpatterns = [
    path("ws/boards/<int:board_id>/", BoardConsumer.as_asgi()),
    path("ws/orgs/<slug:slug>/", OrgConsumer.as_asgi()),
]
