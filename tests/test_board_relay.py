"""The board's viewers in one process hear its events through one relay (boards.live.relay):
one channel in the board's group however many sockets watch it, every socket still getting
every event once and in order, and a reader that does not keep up losing events (it resyncs
on the gap) rather than holding up the others or growing the process's memory."""

import asyncio
import json

import pytest
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.db import connection

from boards.live import relay
from boards.live.events import board_group
from boards.models import Column
from boards.services import create_card, move_card
from tests.test_invitations import Websocket, _json, _next


def group_members(layer, group: str) -> set[str]:
    """The channels in `group`, as the layer holds them in this process (no public API says;
    the pub/sub layer keeps them per event loop)."""
    if isinstance(layer, InMemoryChannelLayer):
        return set(layer.groups.get(group, {}))
    loop_layer = layer._get_layer()
    return set(loop_layer.groups.get(loop_layer._get_group_channel_name(group), set()))


def _headers(world) -> list[tuple[bytes, bytes]]:
    from accounts.services import create_api_token

    _, token = create_api_token(user=world.bob)
    return [(b"authorization", f"Token {token}".encode())]


def _move_in_thread(card_id: int, column: Column, actor) -> None:
    try:
        move_card(card_id, to_column=column, actor=actor)
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_three_sockets_on_a_board_are_one_channel_in_its_group_and_each_hears_every_move(world):
    # given: three of bob's sockets on the Sales board, in this one process
    from kanban.asgi import application

    columns = list(world.board.columns.order_by("position"))
    card = create_card(world.board, title="relayed", column=columns[0], actor=world.alice)
    headers = _headers(world)
    layer = get_channel_layer()
    group = board_group(world.board.pk)

    async def scenario():
        sockets = [Websocket(application, f"/ws/boards/{world.board.pk}/", headers) for _ in "abc"]
        for socket in sockets:
            assert await socket.connect(timeout=10)
            assert await _next(socket, lambda o: _json(o).get("type") == "hello")
        members = group_members(layer, group)
        watching = relay.watchers(world.board.pk)

        # when: the card moves twice
        for column in columns[1:3]:
            await asyncio.to_thread(_move_in_thread, card.pk, column, world.alice)
        heard = []
        for socket in sockets:
            moves = []
            while len(moves) < 2:
                message = _json(await _next(socket, lambda o: _json(o).get("type") == "card.moved"))
                moves.append((message["seq"], message["data"]["to_column"]))
            heard.append(moves)
        for socket in sockets:
            await socket.disconnect()
        return members, watching, heard, group_members(layer, group)

    members, watching, heard, after = asyncio.run(scenario())

    # then: one channel (the relay's) was in the board's group for the three sockets, each
    # socket heard both moves once, in order, and the group was left when they all went
    assert len(members) == 1
    assert watching == 3
    expected = [columns[1].pk, columns[2].pk]
    for moves in heard:
        assert [column for _, column in moves] == expected
        assert moves[1][0] == moves[0][0] + 1
    assert after == set()


@pytest.mark.django_db(transaction=True)
def test_a_socket_arriving_after_the_last_one_left_hears_the_board_again(world):
    from kanban.asgi import application

    columns = list(world.board.columns.order_by("position"))
    card = create_card(world.board, title="again", column=columns[0], actor=world.alice)
    headers = _headers(world)

    async def scenario():
        first = Websocket(application, f"/ws/boards/{world.board.pk}/", headers)
        assert await first.connect(timeout=10)
        await _next(first, lambda o: _json(o).get("type") == "hello")
        await first.disconnect()
        stopped = relay.watchers(world.board.pk)

        second = Websocket(application, f"/ws/boards/{world.board.pk}/", headers)
        assert await second.connect(timeout=10)
        await _next(second, lambda o: _json(o).get("type") == "hello")
        await asyncio.to_thread(_move_in_thread, card.pk, columns[1], world.alice)
        moved = _json(await _next(second, lambda o: _json(o).get("type") == "card.moved"))
        await second.disconnect()
        return stopped, moved

    stopped, moved = asyncio.run(scenario())
    assert stopped == 0
    assert moved["data"]["card"]["id"] == card.pk


def test_a_reader_that_does_not_keep_up_loses_events_not_its_own_answers_nor_their_order():
    async def scenario():
        sent: list[str] = []
        gate = asyncio.Event()

        async def slow_send(message):
            await gate.wait()  # the client reads nothing until the gate opens
            sent.append(message["text"])

        async def quick_send(message):
            sent_quick.append(message["text"])

        sent_quick: list[str] = []
        slow = relay.Outbox(slow_send, limit=3)
        quick = relay.Outbox(quick_send, limit=3)
        slow.open()
        quick.open()
        for seq in range(1, 4):
            slow.put_event(json.dumps({"seq": seq}))
            quick.put_event(json.dumps({"seq": seq}))
            await asyncio.sleep(0)
        slow.put("pong")  # the socket's own answer, queued behind the events
        for seq in range(4, 7):  # past the limit while the first write still waits
            slow.put_event(json.dumps({"seq": seq}))
            quick.put_event(json.dumps({"seq": seq}))
            await asyncio.sleep(0)
        quick_done = list(sent_quick)
        gate.set()
        for _ in range(20):
            await asyncio.sleep(0)
        slow.close()
        quick.close()
        return sent, quick_done, slow.dropped

    sent, quick_done, dropped = asyncio.run(scenario())
    # the slow socket's first write waited while three more events queued (its limit); then
    # its own pong, kept in its place; the next two events were dropped for it (it resyncs on
    # the gap), while the quick socket got all six meanwhile
    assert sent == [json.dumps({"seq": seq}) for seq in range(1, 4)] + [
        "pong",
        json.dumps({"seq": 4}),
    ]
    assert dropped == 2
    assert quick_done == [json.dumps({"seq": seq}) for seq in range(1, 7)]
