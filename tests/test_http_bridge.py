"""HTTP through the real server (kanban/http.py: Django's WSGI handler on a pool of threads, the
body read on the loop): bodies sent without a Content-Length, the body limits, paths and
query strings as Django expects them, and a move reaching a viewer on the embedded default's
in-memory channel layer."""

import asyncio
import json
import time
import urllib.request

import pytest

from accounts.services import create_api_token
from boards import services
from boards.models import Card
from tests.servers import asgi_server, raw_request
from tests.ws_client import BoardViewer, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def chunked(data: bytes, size: int = 7) -> list[bytes]:
    pieces = [data[i : i + size] for i in range(0, len(data), size)]
    return [f"{len(p):x}\r\n".encode() + p + b"\r\n" for p in pieces] + [b"0\r\n\r\n"]


def test_a_body_sent_without_a_content_length_is_read_whole(world):
    card = services.create_card(
        world.board, title="before", column=world.column("Ready"), actor=world.alice
    )
    _, token = create_api_token(user=world.alice)
    body = json.dumps({"title": "after, sent in chunks"}).encode()
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    with asgi_server() as base:
        status, _, answer = raw_request(
            base,
            f"PATCH /api/v1/cards/{card.pk}/ HTTP/1.1",
            {**headers, "Transfer-Encoding": "chunked"},
            chunked(body),
        )
    assert status == 200, answer
    assert json.loads(b"".join(answer))["title"] == "after, sent in chunks"
    card.refresh_from_db()
    assert card.title == "after, sent in chunks"


def test_bodies_over_the_limit_answer_413_and_change_nothing(world):
    card = services.create_card(
        world.board, title="kept", column=world.column("Ready"), actor=world.alice
    )
    _, token = create_api_token(user=world.alice)
    big = json.dumps({"title": "x", "description": "y" * 40_000}).encode()
    line = f"PATCH /api/v1/cards/{card.pk}/ HTTP/1.1"
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    with asgi_server(env={"MAX_REQUEST_BYTES": "20000"}) as base:
        # declared too long: answered from the header alone, the body never sent
        declared, _, declared_answer = raw_request(
            base, line, {**headers, "Content-Length": str(len(big))}
        )
        # sent without a length: read up to the limit, then refused
        sent, _, sent_answer = raw_request(
            base, line, {**headers, "Transfer-Encoding": "chunked"}, chunked(big, 4096)
        )
    declared_answer, sent_answer = b"".join(declared_answer), b"".join(sent_answer)
    assert (declared, sent) == (413, 413)
    assert json.loads(declared_answer)["code"] == json.loads(sent_answer)["code"]
    assert json.loads(sent_answer)["code"] == "payload_too_large"
    card.refresh_from_db()
    assert card.title == "kept"


def test_paths_and_query_strings_reach_django_as_sent(world):
    _, token = create_api_token(user=world.alice)
    services.create_card(
        world.board, title="Café crème invoice", column=world.column("Ready"), actor=world.alice
    )
    with asgi_server() as base:
        request = urllib.request.Request(
            f"{base}/api/v1/cards/?q=caf%C3%A9&board={world.board.pk}",
            headers={"Authorization": f"Token {token}"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            found = json.loads(response.read())
        status, _, _ = raw_request(base, "GET /boards/%C3%A9t%C3%A9/ HTTP/1.1", {})
    assert [c["title"] for c in found["results"]] == ["Café crème invoice"]
    assert status in (302, 404)  # not a page: a redirect to log in or not found, never a 500


def test_on_the_in_memory_layer_a_move_reaches_a_viewer_at_once(world):
    # The embedded default (`make run`): no Redis, so the layer lives in the server's process.
    card = services.create_card(
        world.board, title="moving", column=world.column("Ready"), actor=world.alice
    )
    doing = world.column("Doing")
    _, token = create_api_token(user=world.alice)
    with asgi_server(redis_url="") as base:

        async def scenario() -> float:
            viewer = BoardViewer(base, world.board.pk, token=token)
            viewer.start()
            await viewer.wait_connected()
            await wait_for(lambda: viewer.seq is not None, timeout=10, what="hello")
            sent = time.time()
            answer = await asyncio.to_thread(_move, base, token, card.pk, doing.pk)
            await wait_for(lambda: viewer.seq == answer["seq"], timeout=10, what="the move")
            await viewer.stop()
            return viewer.arrival[answer["seq"]] - sent

        delay = asyncio.run(scenario())
    assert Card.objects.get(pk=card.pk).column_id == doing.pk
    assert delay < 1.0, delay  # handed to the server's loop, not left for a timeout to notice


def _move(base: str, token: str, card_id: int, column_id: int) -> dict:
    request = urllib.request.Request(
        f"{base}/api/v1/cards/{card_id}/move/",
        method="POST",
        data=json.dumps({"column": column_id}).encode(),
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())
