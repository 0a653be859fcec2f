"""The organisation's websocket (/ws/orgs/<slug>/, the global board's one socket) end to end:
a real uvicorn, the real Redis channel layer, real websockets, changes made by the services in
this process (published after commit through Redis, as a worker's or another web process's)."""

import asyncio
import contextlib
import json

import pytest
import websockets
from django.db import transaction

from accounts.models import Membership
from accounts.services import create_api_token, remove_member
from boards import services
from boards.models import Board
from kanban.publisher import flush
from tests.servers import asgi_server
from tests.test_live_updates import _refused, _session_cookie, in_thread

pytestmark = pytest.mark.django_db(transaction=True)


def _org_url(server: str, slug: str) -> str:
    return server.replace("http://", "ws://") + f"/ws/orgs/{slug}/"


async def _next(ws, timeout: float = 10) -> dict:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def _in_thread(fn, *args):
    """Run a service call in a worker thread (its own connection, committed), then wait until
    the publisher has handed what it committed to the channel layer."""

    def run():
        result = fn(*args)
        flush()
        return result

    return await asyncio.to_thread(in_thread, run)


def test_the_org_socket_says_hello_then_which_board_changed_with_its_seq(world):
    # given: a second Acme board, alice's socket on Acme
    product_board = services.create_board(team=world.product, name="Roadmap", actor=world.alice)
    doing = world.column("Doing")
    card = services.create_card(
        world.board, title="a", column=world.column("Ready"), actor=world.bob
    )
    globex_column = world.globex_board.columns.get(name="Doing")
    globex_card = services.create_card(
        world.globex_board, title="g", column=globex_column, actor=world.gina
    )
    roadmap_card = services.create_card(
        product_board, title="r", column=product_board.columns.get(name="Ready"), actor=world.mia
    )
    _, token = create_api_token(user=world.alice)
    boards = {b.pk: b.last_seq for b in Board.objects.filter(organization=world.acme)}

    with asgi_server() as server:

        async def scenario():
            headers = {"Authorization": f"Token {token}"}
            async with websockets.connect(
                _org_url(server, "acme"), additional_headers=headers
            ) as ws:
                hello = await _next(ws)
                # when: a move on the Sales board, one on Globex's (not ours), one on Roadmap
                move = await _in_thread(
                    lambda: services.move_card(card, to_column=doing, actor=world.bob)
                )
                sales = await _next(ws)
                await _in_thread(
                    lambda: services.move_card(
                        globex_card,
                        to_column=world.globex_board.columns.get(name="Done"),
                        actor=world.gina,
                    )
                )
                roadmap = await _in_thread(
                    lambda: services.move_card(
                        roadmap_card,
                        to_column=product_board.columns.get(name="Doing"),
                        actor=world.mia,
                    )
                )
                after = await _next(ws)  # the next message is Roadmap's: nothing came from Globex
                await ws.send(json.dumps({"type": "ping"}))
                pong = await _next(ws)
                await ws.send(json.dumps({"type": "resync", "since": 0}))
                error = await _next(ws)
                return hello, move.seq, sales, roadmap.seq, after, pong, error

        hello, move_seq, sales, roadmap_seq, after, pong, error = asyncio.run(scenario())

    # then
    assert hello == {
        "type": "hello",
        "org": "acme",
        "boards": {str(board_id): seq for board_id, seq in boards.items()},
    }
    assert sales == {"type": "board.changed", "board": world.board.pk, "seq": move_seq}
    assert after == {"type": "board.changed", "board": product_board.pk, "seq": roadmap_seq}
    assert pong["type"] == "pong"
    assert pong["boards"] == {
        **hello["boards"],
        str(world.board.pk): move_seq,
        str(product_board.pk): roadmap_seq,
    }
    assert world.globex_board.pk not in {int(b) for b in pong["boards"]}
    assert error["type"] == "error" and error["code"] == "invalid"


def test_one_commit_of_many_events_is_one_message_and_boards_coming_and_going_are_told(world):
    _, token = create_api_token(user=world.alice)
    ready = world.column("Ready")
    other = services.create_board(team=world.product, name="Roadmap", actor=world.alice)

    with asgi_server() as server:

        async def scenario():
            headers = {"Authorization": f"Token {token}"}
            async with websockets.connect(
                _org_url(server, "acme"), additional_headers=headers
            ) as ws:
                await _next(ws)

                # when: three cards in one transaction
                def three_cards():
                    with transaction.atomic():
                        for title in ("x", "y", "z"):
                            services.create_card(
                                world.board, title=title, column=ready, actor=world.bob
                            )
                    return Board.objects.get(pk=world.board.pk).last_seq

                seq = await _in_thread(three_cards)
                batch = await _next(ws)

                # and a rolled-back change says nothing, a rolled-back savepoint nothing of its own
                def rolled_back_then_partly():
                    with contextlib.suppress(RuntimeError), transaction.atomic():
                        services.create_card(world.board, title="no", column=ready, actor=world.bob)
                        raise RuntimeError("rolled back")
                    with transaction.atomic():
                        with contextlib.suppress(RuntimeError), transaction.atomic():
                            services.create_card(
                                world.board, title="no either", column=ready, actor=world.bob
                            )
                            raise RuntimeError("savepoint rolled back")
                        services.create_card(
                            other,
                            title="yes",
                            column=other.columns.get(name="Ready"),
                            actor=world.mia,
                        )
                    return Board.objects.get(pk=other.pk).last_seq

                other_seq = await _in_thread(rolled_back_then_partly)
                after_rollbacks = await _next(ws)

                # and a board created, then deleted
                created = await _in_thread(
                    lambda: services.create_board(team=world.product, name="New", actor=world.alice)
                )
                created_id = created.pk
                created_seq = await _in_thread(lambda: Board.objects.get(pk=created_id).last_seq)
                created_message = await _next(ws)
                await _in_thread(lambda: services.delete_board(created, actor=world.alice))
                deleted_message = await _next(ws)
                # nothing else was sent for the three cards
                await ws.send(json.dumps({"type": "ping"}))
                pong = await _next(ws)
                return (
                    seq,
                    batch,
                    (other_seq, after_rollbacks),
                    (created_id, created_seq),
                    created_message,
                    deleted_message,
                    pong,
                )

        (
            seq,
            batch,
            (other_seq, after_rollbacks),
            (created_id, created_seq),
            created_message,
            deleted_message,
            pong,
        ) = asyncio.run(scenario())

    assert batch == {"type": "board.changed", "board": world.board.pk, "seq": seq}
    assert after_rollbacks == {"type": "board.changed", "board": other.pk, "seq": other_seq}
    assert created_message == {"type": "board.created", "board": created_id, "seq": created_seq}
    assert deleted_message == {"type": "board.deleted", "board": created_id}
    assert pong["type"] == "pong" and str(created_id) not in pong["boards"]


def test_the_org_socket_is_refused_like_a_missing_org_to_anyone_not_a_member(world):
    _, alice = create_api_token(user=world.alice)
    _, gina = create_api_token(user=world.gina)

    with asgi_server() as server:

        async def scenario():
            acme, globex = _org_url(server, "acme"), _org_url(server, "globex")
            return {
                "no credentials": await _refused(acme, {}),
                "wrong token": await _refused(acme, {"Authorization": "Token not-a-real-key"}),
                "a non-member (gina on acme)": await _refused(
                    acme, {"Authorization": f"Token {gina}"}
                ),
                "a foreign org (alice on globex)": await _refused(
                    globex, {"Authorization": f"Token {alice}"}
                ),
                "a missing org": await _refused(
                    _org_url(server, "no-such-org"), {"Authorization": f"Token {alice}"}
                ),
                "a foreign origin": await _refused(
                    acme, {"Authorization": f"Token {alice}", "Origin": "http://evil.example"}
                ),
            }

        async def answers():
            # a foreign org and a missing one are refused alike, at the handshake
            statuses = []
            for slug in ("globex", "no-such-org"):
                headers = {"Authorization": f"Token {alice}"}
                with pytest.raises(websockets.InvalidStatus) as refused:
                    async with websockets.connect(
                        _org_url(server, slug), additional_headers=headers
                    ):
                        pass
                statuses.append(refused.value.response.status_code)
            return statuses

        refused = asyncio.run(scenario())
        statuses = asyncio.run(answers())
    assert refused == dict.fromkeys(refused, True)
    assert statuses == [403, 403]


def test_removing_a_member_closes_their_org_socket(world, client):
    # given: bob's browser session on Acme's org socket, and his token's socket too
    cookie = _session_cookie(client, world.bob)
    _, token = create_api_token(user=world.bob)
    membership = Membership.objects.get(user=world.bob, organization=world.acme)

    with asgi_server() as server:
        url = _org_url(server, "acme")

        async def scenario():
            session = {"Cookie": f"sessionid={cookie}", "Origin": server}
            async with (
                websockets.connect(url, additional_headers=session) as browser,
                websockets.connect(
                    url, additional_headers={"Authorization": f"Token {token}"}
                ) as script,
            ):
                hellos = [await _next(browser), await _next(script)]
                # when: alice removes bob from Acme
                await _in_thread(lambda: remove_member(membership, actor=world.alice))
                codes = []
                for ws in (browser, script):
                    with pytest.raises(websockets.ConnectionClosed) as closed:
                        while True:
                            await _next(ws)
                    codes.append(closed.value.rcvd.code)
                return hellos, codes

        hellos, codes = asyncio.run(scenario())
        # and a new one is refused
        assert asyncio.run(_refused(url, {"Authorization": f"Token {token}"}))

    assert [h["type"] for h in hellos] == ["hello", "hello"]
    assert codes == [4401, 4401]
