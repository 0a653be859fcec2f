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


def cards_of(body: dict) -> dict[int, dict]:
    return {c["id"]: {k: v for k, v in c.items() if k != "age_days"} for c in body["cards"]}


def test_a_read_after_changes_reencodes_only_what_changed_and_shows_every_change(world, api):
    """Each card's JSON is kept for the row and relations it was made of (snapshot._fragments):
    whatever changes them (a service, a cascade that no card write counts, a bare UPDATE) is in
    the next read, and the read equals the board built from scratch."""
    from boards.models import Card
    from boards.selectors import snapshot

    ready, doing = world.column("Ready"), world.column("Doing")
    urgent = services.create_label(world.board, name="urgent", actor=world.alice)
    a, b, c = (
        services.create_card(world.board, title=t, column=ready, actor=world.bob) for t in "ABC"
    )
    services.update_card(a, labels=[urgent], assignees=[world.bob], actor=world.bob)
    client = api(world.alice)
    read(client, world.board)
    kept = {card_id: snapshot._fragments[card_id][3] for card_id in (a.pk, b.pk, c.pk)}

    services.move_card(c, to_column=doing, actor=world.bob)
    services.move_card(b, to_column=ready, position=0, actor=world.bob)  # b first, a second
    services.delete_label(urgent, actor=world.alice)  # off card a, whose row stays as it was
    Card.objects.filter(pk=b.pk).update(title="B, renamed without counting a version")
    body = read(client, world.board)

    board = selectors.get_board_for_user(world.alice, world.board.pk)
    assert cards_of(body) == cards_of(orjson.loads(orjson.dumps(board_detail(board))))
    by_id = {card["id"]: card for card in body["cards"]}
    assert by_id[a.pk]["labels"] == [] and by_id[a.pk]["assignees"] == [world.bob.pk]
    assert by_id[b.pk]["title"] == "B, renamed without counting a version"
    assert (by_id[b.pk]["position"], by_id[a.pk]["position"]) == (0, 1)
    assert (by_id[c.pk]["column"], by_id[c.pk]["position"]) == (doing.pk, 0)
    # a's row did not change, its labels did; every card was encoded again
    assert all(snapshot._fragments[i][3] != kept[i] for i in kept)

    unchanged, before = snapshot._fragments[a.pk][3], snapshot._fragments[c.pk][3]
    services.update_card(c, title="C2", actor=world.bob)
    assert [card["title"] for card in read(client, world.board)["cards"]][-1] == "C2"
    assert snapshot._fragments[a.pk][3] is unchanged  # kept: its row and relations are the same
    assert snapshot._fragments[c.pk][3] != before
