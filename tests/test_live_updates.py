"""Live updates end to end: real uvicorn processes, a real Redis channel layer, real websockets."""

import asyncio
import json
import random
import urllib.error
import urllib.request

import pytest
import websockets

from accounts.services import create_api_token
from boards import services
from tests.servers import RedisServer, asgi_server
from tests.ws_client import BoardViewer, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def api(base: str, method: str, path: str, token: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(
        f"{base}{path}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"{}")


def in_thread(fn, *args):
    """Run `fn` (in a worker thread) and close the thread's database connection after."""
    from django.db import connection

    try:
        return fn(*args)
    finally:
        connection.close()


def seed_cards(world, n: int = 20) -> list[int]:
    columns = list(world.board.columns.all())
    return [
        services.create_card(
            world.board, title=f"card {i}", column=columns[i % 4], actor=world.alice
        ).pk
        for i in range(n)
    ]


def random_moves(base: str, token: str, board_id: int, count: int, seed: int) -> int:
    """Make `count` real moves (each to another column) through the REST API; return the last
    seq the API reported."""
    rng = random.Random(seed)
    board = api(base, "GET", f"/api/v1/boards/{board_id}/", token)
    columns = [c["id"] for c in board["columns"]]
    where = {c["id"]: c["column"] for c in board["cards"]}
    seq = board["seq"]
    for _ in range(count):
        card = rng.choice(list(where))
        target = rng.choice([c for c in columns if c != where[card]])
        answer = api(
            base,
            "POST",
            f"/api/v1/cards/{card}/move/",
            token,
            {"column": target, "position": rng.randint(0, 6)},
        )
        assert answer["moved"] is True
        where[card] = target
        seq = answer["seq"]
    return seq


def api_state(base: str, token: str, board_id: int) -> dict[tuple[int, int], list[int]]:
    board = api(base, "GET", f"/api/v1/boards/{board_id}/", token)
    cells: dict[tuple[int, int], list[int]] = {}
    for card in sorted(board["cards"], key=lambda c: c["position"]):
        cells.setdefault((card["column"], card["swimlane"]), []).append(card["id"])
    return cells


def test_every_viewer_on_two_processes_gets_every_move_once_in_order(world):
    # given: two server processes sharing the Redis layer, 50 viewers spread over both
    seed_cards(world)
    _, token = create_api_token(user=world.alice)
    world.board.refresh_from_db()
    initial = world.board.last_seq
    with asgi_server() as server_a, asgi_server() as server_b:

        async def scenario():
            viewers = [
                BoardViewer(
                    server_a if i % 2 else server_b, world.board.pk, token=token, name=f"v{i}"
                )
                for i in range(50)
            ]
            for viewer in viewers:
                viewer.start()
            await asyncio.gather(*(v.wait_connected() for v in viewers))
            await wait_for(
                lambda: all(v.seq == initial for v in viewers), timeout=10, what="initial sync"
            )
            start = {id(v): v.seq for v in viewers}

            # when: 200 moves through the REST API of one process
            last = await asyncio.to_thread(
                random_moves, server_a, token, world.board.pk, 200, seed=1
            )
            await wait_for(
                lambda: all(v.seq == last for v in viewers),
                timeout=30,
                what="every viewer to reach the last seq",
            )
            for viewer in viewers:
                await viewer.stop()
            return viewers, start, last

        viewers, start, last = asyncio.run(scenario())
        expected_state = api_state(server_a, token, world.board.pk)

    # then: each viewer received each event exactly once, in seq order, with no gap
    for viewer in viewers:
        first = start[id(viewer)]
        live = [seq for seq in viewer.received if seq > first]
        assert live == list(range(first + 1, last + 1)), viewer.name
        assert viewer.resyncs == 0, viewer.name
        assert viewer.state() == expected_state, viewer.name


def test_viewers_converge_after_redis_is_down_while_moves_continue(world):
    # given: a private Redis for the layer, two processes, viewers on both
    seed_cards(world)
    _, token = create_api_token(user=world.alice)
    with (
        RedisServer() as redis_server,
        asgi_server(redis_url=redis_server.url) as server_a,
        asgi_server(redis_url=redis_server.url) as server_b,
    ):

        async def scenario():
            viewers = [
                BoardViewer(
                    server_a if i % 2 else server_b,
                    world.board.pk,
                    token=token,
                    name=f"v{i}",
                    ping_interval=1.0,
                )
                for i in range(10)
            ]
            for viewer in viewers:
                viewer.start()
            await asyncio.gather(*(v.wait_connected() for v in viewers))
            await asyncio.to_thread(random_moves, server_a, token, world.board.pk, 10, seed=2)

            # when: Redis stops while moves go on through the API (and they succeed)
            await asyncio.to_thread(redis_server.stop)
            last = await asyncio.to_thread(
                random_moves, server_b, token, world.board.pk, 15, seed=3
            )
            await asyncio.sleep(2)
            await asyncio.to_thread(redis_server.start)

            # then: every viewer catches up by resync, nothing lost
            await wait_for(
                lambda: all(v.seq == last for v in viewers),
                timeout=30,
                what="every viewer to catch up after the outage",
            )
            for viewer in viewers:
                await viewer.stop()
            return viewers

        viewers = asyncio.run(scenario())
        expected_state = api_state(server_a, token, world.board.pk)
    for viewer in viewers:
        assert viewer.state() == expected_state, viewer.name
    assert any(v.resyncs > 0 for v in viewers)


async def _refused(url: str, headers: dict[str, str]) -> bool:
    try:
        async with websockets.connect(url, additional_headers=headers, open_timeout=5) as ws:
            await asyncio.wait_for(ws.recv(), 5)
    except websockets.InvalidStatus as exc:
        return exc.response.status_code == 403
    except websockets.ConnectionClosed:
        return True
    return False


def test_connections_without_access_are_refused(world):
    _, alice_token = create_api_token(user=world.alice)
    with asgi_server() as server:
        ws = server.replace("http://", "ws://")
        own = f"{ws}/ws/boards/{world.board.pk}/"
        foreign = f"{ws}/ws/boards/{world.globex_board.pk}/"

        async def scenario():
            return {
                "no credentials": await _refused(own, {}),
                "wrong token": await _refused(own, {"Authorization": "Token not-a-real-key"}),
                "another organisation's board": await _refused(
                    foreign, {"Authorization": f"Token {alice_token}"}
                ),
                "foreign origin": await _refused(
                    own, {"Authorization": f"Token {alice_token}", "Origin": "http://evil.example"}
                ),
                "missing board": await _refused(
                    f"{ws}/ws/boards/999999/", {"Authorization": f"Token {alice_token}"}
                ),
            }

        refused = asyncio.run(scenario())
    assert refused == dict.fromkeys(refused, True)


def test_hello_carries_the_current_seq_and_resync_replays_in_order(world):
    seed_cards(world, n=5)
    _, token = create_api_token(user=world.alice)
    world.board.refresh_from_db()
    with asgi_server() as server:
        url = server.replace("http://", "ws://") + f"/ws/boards/{world.board.pk}/"

        async def scenario():
            async with websockets.connect(
                url, additional_headers={"Authorization": f"Token {token}"}
            ) as ws:
                hello = json.loads(await ws.recv())
                await ws.send(json.dumps({"type": "resync", "since": hello["seq"] - 3}))
                replay = [json.loads(await ws.recv()) for _ in range(3)]
                await ws.send(json.dumps({"type": "resync", "since": "x"}))
                error = json.loads(await ws.recv())
                while error.get("type") == "presence":
                    error = json.loads(await ws.recv())
                await ws.send("this is not json")
                garbage = json.loads(await ws.recv())
                while garbage.get("type") == "presence":
                    garbage = json.loads(await ws.recv())
                await ws.send(json.dumps({"type": "ping"}))
                pong = json.loads(await ws.recv())
                return hello, replay, error, garbage, pong

        hello, replay, error, garbage, pong = asyncio.run(scenario())
    assert hello == {"type": "hello", "board": world.board.pk, "seq": world.board.last_seq}
    replay = [m for m in replay if m.get("type") != "presence"]
    assert [m["seq"] for m in replay] == list(
        range(hello["seq"] - len(replay) + 1, hello["seq"] + 1)
    )
    assert all(m["type"] == "card.created" for m in replay)
    assert error["type"] == "error"
    # a message that is not JSON gets an error, and the socket stays open for the next one
    assert garbage["type"] == "error"
    assert pong == {"type": "pong", "seq": hello["seq"]}


def test_a_move_made_outside_a_request_reaches_viewers(world):
    """A service call from a shell or a task publishes the same way as the REST API."""
    (card_id,) = seed_cards(world, n=1)
    _, token = create_api_token(user=world.alice)
    with asgi_server() as server:

        async def scenario():
            viewer = BoardViewer(server, world.board.pk, token=token)
            viewer.start()
            await viewer.wait_connected()
            await wait_for(lambda: viewer.seq and viewer.seq > 0, timeout=10, what="sync")

            def move():
                from boards.models import Card

                card = Card.objects.select_related("board").get(pk=card_id)
                move = services.move_card(card, to_column=world.column("Done"), actor=world.bob)
                from kanban.publisher import flush

                flush()
                return move.seq

            seq = await asyncio.to_thread(in_thread, move)
            await wait_for(lambda: viewer.seq == seq, timeout=10, what="the move")
            await viewer.stop()
            return viewer

        viewer = asyncio.run(scenario())
    assert viewer.resyncs == 0


def test_api_error_is_not_an_event(world):
    """A refused move (409) publishes nothing and leaves the seq where it was."""
    (card_id,) = seed_cards(world, n=1)
    doing = world.column("Doing")
    services.update_column(doing, wip_limit=1, wip_policy="hard", actor=world.alice)
    services.create_card(world.board, title="in progress", column=doing, actor=world.alice)
    _, token = create_api_token(user=world.bob)
    with asgi_server() as server:
        before = api(server, "GET", f"/api/v1/boards/{world.board.pk}/", token)["seq"]
        with pytest.raises(urllib.error.HTTPError) as refused:
            api(server, "POST", f"/api/v1/cards/{card_id}/move/", token, {"column": doing.pk})
        assert refused.value.code == 409
        assert api(server, "GET", f"/api/v1/boards/{world.board.pk}/", token)["seq"] == before


def _session_cookie(client, user) -> str:
    client.force_login(user)
    return client.cookies["sessionid"].value


def test_a_browser_session_connects_and_logging_out_closes_its_sockets(world, client):
    # given: bob's browser session (cookie + an allowed Origin) watching the board
    cookie = _session_cookie(client, world.bob)
    with asgi_server() as server:
        url = server.replace("http://", "ws://") + f"/ws/boards/{world.board.pk}/"
        headers = {"Cookie": f"sessionid={cookie}", "Origin": server}

        async def scenario():
            async with websockets.connect(url, additional_headers=headers) as ws:
                hello = json.loads(await ws.recv())
                # when: bob logs out (in another process: the close travels through Redis)
                await asyncio.to_thread(in_thread, client.post, "/accounts/logout/")
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    while True:
                        await asyncio.wait_for(ws.recv(), 10)
                return hello, closed.value

        hello, closed = asyncio.run(scenario())
    # then: the socket was open for him, and closed by the logout
    assert hello["type"] == "hello"
    assert closed.rcvd.code == 4401


def test_viewers_see_how_many_people_are_watching(world):
    _, alice = create_api_token(user=world.alice)
    _, bob = create_api_token(user=world.bob)
    with asgi_server() as server_a, asgi_server() as server_b:

        async def watch(server, token, until):
            url = server.replace("http://", "ws://") + f"/ws/boards/{world.board.pk}/"
            async with websockets.connect(
                url, additional_headers={"Authorization": f"Token {token}"}
            ) as ws:
                while True:
                    message = json.loads(await asyncio.wait_for(ws.recv(), 10))
                    if message["type"] == "presence" and until(message):
                        return message

        async def scenario():
            # alice on one process, bob on the other: each hears of both
            return await asyncio.gather(
                watch(server_a, alice, lambda m: m["count"] == 2),
                watch(server_b, bob, lambda m: m["count"] == 2),
            )

        seen = asyncio.run(scenario())
    for message in seen:
        assert sorted(message["viewers"]) == ["alice", "bob"]
