"""API tokens: a user lists, creates (optionally expiring) and revokes their own; a revoked or
expired token stops working at once, on the REST API and on websockets already open, and so
does everything of a deactivated user."""

import asyncio
import json
import time
from datetime import timedelta

import pytest
import websockets
from django.utils import timezone

from accounts import services
from accounts.models import ApiToken
from tests.servers import asgi_server

API = "/api/v1"


# --- the REST API -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_user_lists_only_their_own_tokens_without_keys(world, api):
    services.create_api_token(user=world.alice, name="alice's script")
    client = api(world.bob)  # makes bob's token "test"
    body = client.get(f"{API}/tokens/").json()
    assert body["count"] == 1
    (token,) = body["results"]
    assert token["name"] == "test"
    assert set(token) == {"id", "name", "prefix", "created_at", "last_used_at", "expires_at"}


@pytest.mark.django_db
def test_a_new_token_shows_its_key_once_and_works_until_it_expires(world, api):
    expires = timezone.now() + timedelta(days=30)
    response = api(world.bob).post(
        f"{API}/tokens/", {"name": "ci", "expires_at": expires.isoformat()}, format="json"
    )
    assert response.status_code == 201
    created = response.json()
    key = created["token"]
    assert created["prefix"] == key[:8]
    assert ApiToken.objects.get(pk=created["id"]).expires_at == expires
    me = api(None).get(f"{API}/me/", HTTP_AUTHORIZATION=f"Token {key}")
    assert me.status_code == 200 and me.json()["username"] == "bob"
    listed = api(world.bob).get(f"{API}/tokens/{created['id']}/").json()
    assert "token" not in listed


@pytest.mark.django_db
def test_an_expired_token_is_refused(world, api):
    token, key = services.create_api_token(
        user=world.bob, expires_at=timezone.now() + timedelta(seconds=5)
    )
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = api(None).get(f"{API}/me/", HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


@pytest.mark.django_db
@pytest.mark.parametrize("days", [-1, 3651])
def test_a_token_cannot_expire_in_the_past_or_beyond_ten_years(world, api, days):
    client = api(world.bob)
    before = ApiToken.objects.count()
    when = (timezone.now() + timedelta(days=days)).isoformat()
    response = client.post(f"{API}/tokens/", {"expires_at": when}, format="json")
    assert response.status_code == 400
    assert "expires_at" in response.json()["fields"]
    assert ApiToken.objects.count() == before


@pytest.mark.django_db
def test_a_revoked_token_stops_working_and_others_tokens_are_not_found(world, api):
    token, key = services.create_api_token(user=world.bob, name="old")
    alice = api(world.alice)
    assert alice.delete(f"{API}/tokens/{token.pk}/").status_code == 404
    assert alice.get(f"{API}/tokens/{token.pk}/").status_code == 404
    bob = api(world.bob)
    assert bob.delete(f"{API}/tokens/{token.pk}/").status_code == 204
    assert not ApiToken.objects.filter(pk=token.pk).exists()
    assert api(None).get(f"{API}/me/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 401


# --- the page -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_tokens_page_creates_a_token_shown_once_and_revokes_it(world, client):
    client.force_login(world.bob)
    # when bob creates a token on the page
    created = client.post("/accounts/tokens/", {"name": "export", "expires": "30"})
    # then its key is on that answer, and works
    token = ApiToken.objects.get(user=world.bob, name="export")
    page = created.content.decode()
    key = page.split('id="new-token">', 1)[1].split("<", 1)[0]
    assert key.startswith(token.prefix) and len(key) > 30
    assert 29 <= (token.expires_at - timezone.now()).days <= 30
    # and the list afterwards does not show it again
    listed = client.get("/accounts/tokens/").content.decode()
    assert "export" in listed and key not in listed
    # when he revokes it
    revoked = client.post("/accounts/tokens/", {"action": "revoke", "token": token.pk})
    assert revoked.status_code == 302
    assert not ApiToken.objects.filter(pk=token.pk).exists()


@pytest.mark.django_db
def test_the_tokens_page_cannot_revoke_another_users_token(world, client):
    token, _ = services.create_api_token(user=world.alice)
    client.force_login(world.bob)
    response = client.post("/accounts/tokens/", {"action": "revoke", "token": token.pk})
    assert response.status_code == 302
    assert ApiToken.objects.filter(pk=token.pk).exists()
    assert "Token not found" in client.get("/accounts/tokens/").content.decode()


# --- open websockets ------------------------------------------------------------------------------


async def _until_closed(ws, timeout: float = 10) -> int:
    """Read until the server closes the socket; its close code."""
    with pytest.raises(websockets.ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(ws.recv(), timeout)
    assert closed.value.rcvd is not None, "the server sent a close frame"
    return closed.value.rcvd.code


def _watch_then(server: str, board_id: int, key: str, action) -> tuple[dict, int]:
    """Open a board socket with `key`, run `action` (in a thread) once it says hello, and
    return the hello and the close code the server sent."""
    url = server.replace("http://", "ws://") + f"/ws/boards/{board_id}/"

    async def scenario():
        async with websockets.connect(
            url, additional_headers={"Authorization": f"Token {key}"}
        ) as ws:
            hello = json.loads(await ws.recv())
            await asyncio.to_thread(_in_thread, action)
            return hello, await _until_closed(ws)

    return asyncio.run(scenario())


def _in_thread(action) -> None:
    from django.db import connection

    try:
        action()
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_an_open_socket_closes_when_its_token_is_revoked(world):
    token, key = services.create_api_token(user=world.bob)
    _, other_key = services.create_api_token(user=world.bob)
    with asgi_server() as server:
        url = server.replace("http://", "ws://") + f"/ws/boards/{world.board.pk}/"

        async def scenario():
            # bob watches the board with two tokens; one of them is revoked
            async with (
                websockets.connect(url, additional_headers={"Authorization": f"Token {key}"}) as a,
                websockets.connect(
                    url, additional_headers={"Authorization": f"Token {other_key}"}
                ) as b,
            ):
                await a.recv(), await b.recv()
                revoke = lambda: services.revoke_api_token(token, actor=world.bob)  # noqa: E731
                await asyncio.to_thread(_in_thread, revoke)
                code = await _until_closed(a)
                # the other token's socket stays open and answers
                await b.send(json.dumps({"type": "ping"}))
                while (reply := json.loads(await asyncio.wait_for(b.recv(), 10)))["type"] != "pong":
                    pass
                return code, reply

        code, reply = asyncio.run(scenario())
    assert code == 4401
    assert reply["type"] == "pong"


@pytest.mark.django_db(transaction=True)
def test_an_open_socket_closes_when_its_token_expires(world):
    _, key = services.create_api_token(
        user=world.bob, expires_at=timezone.now() + timedelta(seconds=3)
    )
    with asgi_server() as server:
        started = time.monotonic()
        hello, code = _watch_then(server, world.board.pk, key, lambda: None)
        waited = time.monotonic() - started
    assert hello["type"] == "hello"
    assert code == 4401
    assert waited < 10  # closed at the expiry, not by the read timeout


@pytest.mark.django_db(transaction=True)
def test_an_expired_token_opens_no_socket(world):
    token, key = services.create_api_token(
        user=world.bob, expires_at=timezone.now() + timedelta(seconds=5)
    )
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    with asgi_server() as server:
        url = server.replace("http://", "ws://") + f"/ws/boards/{world.board.pk}/"

        async def scenario():
            async with websockets.connect(
                url, additional_headers={"Authorization": f"Token {key}"}
            ) as ws:
                await ws.recv()

        # refused at the handshake (the consumer closes before accepting: HTTP 403)
        with pytest.raises(websockets.InvalidStatus) as refused:
            asyncio.run(scenario())
    assert refused.value.response.status_code == 403


@pytest.mark.django_db(transaction=True)
def test_an_open_socket_closes_when_its_user_is_deactivated(world):
    _, key = services.create_api_token(user=world.bob)
    world.alice.is_staff = True
    world.alice.save(update_fields=["is_staff"])
    with asgi_server() as server:
        hello, code = _watch_then(
            server,
            world.board.pk,
            key,
            lambda: services.set_user_active(world.bob, active=False, actor=world.alice),
        )
    assert hello["type"] == "hello" and code == 4401
    world.bob.refresh_from_db()
    assert world.bob.is_active is False


@pytest.mark.django_db
def test_only_staff_deactivate_users(world):
    from kanban.exceptions import Forbidden

    with pytest.raises(Forbidden):
        services.set_user_active(world.bob, active=False, actor=world.alice)
    world.bob.refresh_from_db()
    assert world.bob.is_active
