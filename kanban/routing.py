# Websocket routes; the board consumer arrives with live updates.
websocket_urlpatterns: list = []
