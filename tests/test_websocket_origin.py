"""A board websocket opens only from a page of this very site: scheme, host and port, exactly."""

import asyncio

import pytest
import websockets

from kanban.websocket import origin_allowed
from tests.servers import asgi_server


def scope(origin: str | None, host: str = "127.0.0.1:8000", scheme: str = "ws", **extra) -> dict:
    headers = [(b"host", host.encode())]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    headers += [(k.encode(), v.encode()) for k, v in extra.items()]
    return {"type": "websocket", "scheme": scheme, "headers": headers}


@pytest.mark.parametrize(
    "origin",
    [
        "http://127.0.0.1:9999",  # another port of the same host
        "https://127.0.0.1:8000",  # another scheme
        "https://127.0.0.1",
        "http://127.0.0.1",  # the default port is 80, not 8000
        "http://localhost:8000",  # another host name
        "http://evil.example",
        "null",
        "http://127.0.0.1:8000.evil.example",
        "file://",
    ],
)
def test_an_origin_that_is_not_exactly_this_site_is_refused(origin):
    assert not origin_allowed(scope(origin))


def test_this_sites_own_origin_is_accepted_in_any_case_and_a_script_has_none():
    assert origin_allowed(scope("http://127.0.0.1:8000"))
    assert origin_allowed(scope("HTTP://127.0.0.1:8000/"))
    assert origin_allowed(scope("https://localhost", host="localhost", scheme="wss"))
    assert origin_allowed(scope(None))  # no Origin: not a browser


def test_a_host_outside_allowed_hosts_has_no_own_origin(settings):
    settings.ALLOWED_HOSTS = ["obeya.example"]
    assert not origin_allowed(scope("http://evil.example", host="evil.example"))
    assert origin_allowed(scope("http://obeya.example", host="obeya.example"))


def test_behind_a_trusted_proxy_its_scheme_counts(settings):
    settings.ALLOWED_HOSTS = ["obeya.example"]
    secure = {"x-forwarded-proto": "https"}
    assert not origin_allowed(scope("https://obeya.example", host="obeya.example", **secure))
    settings.TRUSTED_PROXY_COUNT = 1
    assert origin_allowed(scope("https://obeya.example", host="obeya.example", **secure))
    assert not origin_allowed(scope("http://obeya.example", host="obeya.example", **secure))


def test_csrf_trusted_origins_are_trusted_exactly(settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://board.example.com", "https://*.wall.example"]
    assert origin_allowed(scope("https://board.example.com"))
    assert not origin_allowed(scope("http://board.example.com"))
    assert not origin_allowed(scope("https://board.example.com:8443"))
    assert origin_allowed(scope("https://lobby.wall.example"))
    assert not origin_allowed(scope("https://wall.example.evil"))


@pytest.mark.django_db(transaction=True)
def test_a_browser_session_opens_a_socket_only_from_the_sites_own_origin(world, client):
    client.force_login(world.bob)
    cookie = client.cookies["sessionid"].value
    with asgi_server() as server:
        port = server.rsplit(":", 1)[1]
        url = server.replace("http://", "ws://") + f"/ws/boards/{world.board.pk}/"

        async def opens(origin: str) -> bool:
            headers = {"Cookie": f"sessionid={cookie}", "Origin": origin}
            try:
                async with websockets.connect(url, additional_headers=headers) as ws:
                    return '"hello"' in await asyncio.wait_for(ws.recv(), 5)
            except websockets.InvalidStatus as refused:
                assert refused.response.status_code == 403
                return False

        async def scenario():
            return {
                origin: await opens(origin)
                for origin in (
                    server,
                    "http://127.0.0.1:9999",
                    f"https://127.0.0.1:{port}",
                    "https://127.0.0.1",
                    f"http://localhost:{port}",
                )
            }

        opened = asyncio.run(scenario())
    assert opened == {
        server: True,
        "http://127.0.0.1:9999": False,
        f"https://127.0.0.1:{port}": False,
        "https://127.0.0.1": False,
        f"http://localhost:{port}": False,
    }
