"""GET /api/v1/boards/{id}/: the whole board, encoded once per change of it and served again
while it stays as it was, to every reader, with their own `can_write`."""

import orjson
import pytest

from boards import selectors, services
from boards.api.views import board_detail

pytestmark = pytest.mark.django_db


def read(client, board) -> dict:
    response = client.get(f"/api/v1/boards/{board.pk}/")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    return orjson.loads(response.content)


def test_the_encoded_board_is_the_snapshot_with_the_readers_right_to_write(world, api):
    services.create_card(world.board, title="Ünïcode ✓", column=world.column("Ready"),
                         actor=world.bob)  # fmt: skip
    board = selectors.get_board_for_user(world.alice, world.board.pk)
    for user, can_write in ((world.alice, True), (world.victor, False)):
        body = read(api(user), world.board)
        expected = orjson.loads(orjson.dumps(board_detail(board)))
        expected["can_write"] = can_write
        body["cards"][0]["age_days"] = expected["cards"][0]["age_days"]  # a moment later
        assert body == expected
        assert list(body)[-1] == "can_write"


def test_a_change_of_the_board_is_in_the_next_read(world, api):
    card = services.create_card(world.board, title="A", column=world.column("Ready"),
                                actor=world.bob)  # fmt: skip
    client = api(world.alice)
    before = read(client, world.board)
    services.move_card(card, to_column=world.column("Doing"), actor=world.bob)
    after = read(client, world.board)
    assert after["seq"] == before["seq"] + 1
    assert [c["column"] for c in after["cards"]] == [world.column("Doing").pk]


def test_with_the_cache_off_every_read_builds_the_board(world, api, settings,
                                                      django_assert_num_queries):  # fmt: skip
    settings.SNAPSHOT_CACHE_SECONDS = 0
    client = api(world.alice)
    read(client, world.board)
    with django_assert_num_queries(9):  # token, board with access, the snapshot (7)
        read(client, world.board)


def test_a_kept_board_expires(world, api, settings, monkeypatch):
    from boards.selectors import snapshot

    client = api(world.alice)
    read(client, world.board)
    # the team changes (no event on the board): seen once the kept JSON expires
    world.sales.members.add(world.mia)
    assert "mia" not in [p["username"] for p in read(client, world.board)["people"]]
    clock = snapshot.time.monotonic() + settings.SNAPSHOT_CACHE_SECONDS + 1
    monkeypatch.setattr(snapshot.time, "monotonic", lambda: clock)
    assert "mia" in [p["username"] for p in read(client, world.board)["people"]]
