"""A card's whole history: GET /api/v1/cards/{id}/history/ lists its creation, moves, edits
(field, old, new), comments, blocks, unblocks, archives and restores, oldest first."""

from datetime import UTC, datetime, timedelta

import pytest

from boards import services

pytestmark = pytest.mark.django_db

API = "/api/v1"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def lived(world, edits: int = 1):
    """A card with one of everything, a minute apart (`edits` title edits)."""
    card = services.create_card(
        world.board, title="Quote", column=world.column("Ready"), actor=world.alice, at=at(0)
    )
    for i in range(edits):
        services.update_card(card, title=f"Quote v{i + 2}", actor=world.bob, at=at(1 + i))
    n = 1 + edits
    services.add_comment(card, body="Sent to *Initech*", actor=world.adam, at=at(n))
    services.block_card(card, reason="Waiting for legal", actor=world.bob, at=at(n + 1))
    services.unblock_card(card, actor=world.adam, at=at(n + 2))
    services.move_card(card, to_column=world.column("Doing"), actor=world.bob, at=at(n + 3))
    services.archive_card(card, actor=world.alice, at=at(n + 4))
    services.restore_card(card, actor=world.alice, at=at(n + 5))
    return card


def test_history_lists_every_kind_of_change_in_time_order_with_who_and_when(world, api):
    card = lived(world)

    response = api(world.victor).get(f"{API}/cards/{card.pk}/history/")

    assert response.status_code == 200
    results = response.json()["results"]
    assert [(e["kind"], e["actor"]["username"]) for e in results] == [
        ("created", "alice"),
        ("edited", "bob"),
        ("commented", "adam"),
        ("blocked", "bob"),
        ("unblocked", "adam"),
        ("moved", "bob"),
        ("archived", "alice"),
        ("restored", "alice"),
    ]
    assert [e["at"] for e in results] == [at(i).isoformat() for i in range(8)]
    edit = results[1]
    assert (edit["field"], edit["old"], edit["new"], edit["version"]) == (
        "title",
        "Quote",
        "Quote v2",
        2,
    )
    assert results[2]["comment"]["body"] == "Sent to *Initech*"
    assert results[3]["reason"] == "Waiting for legal"
    move = results[5]
    assert (move["from_column_name"], move["to_column_name"]) == ("Ready", "Doing")
    assert [e["version"] for e in results if e["kind"] != "commented"] == [1, 2, 3, 4, 5, 6, 7]


def test_an_edit_of_several_fields_is_one_entry_per_field(world, api):
    card = services.create_card(
        world.board, title="Quote", column=world.column("Ready"), actor=world.alice, at=at(0)
    )
    services.update_card(
        card, title="Quote 2", customer="Initech", due_date=T0.date(), actor=world.bob, at=at(1)
    )

    results = api(world.bob).get(f"{API}/cards/{card.pk}/history/").json()["results"]

    edits = {e["field"]: (e["old"], e["new"]) for e in results if e["kind"] == "edited"}
    assert edits == {
        "title": ("Quote", "Quote 2"),
        "customer": ("", "Initech"),
        "due_date": (None, "2026-03-02"),
    }


def test_history_is_paged_like_the_other_lists(world, api):
    card = lived(world)

    response = api(world.bob).get(f"{API}/cards/{card.pk}/history/?page_size=3&page=2")

    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 8
    assert [e["kind"] for e in body["results"]] == ["blocked", "unblocked", "moved"]
    assert "page=3" in body["next"]


def test_history_refuses_keyset_paging_with_a_clear_400(world, api):
    card = lived(world)
    response = api(world.bob).get(f"{API}/cards/{card.pk}/history/?cursor=")
    assert response.status_code == 400
    assert response.json()["code"] == "cursor_not_supported"


def test_a_foreign_cards_history_is_not_found(world, api):
    theirs = services.create_card(
        world.globex_board,
        title="Secret",
        column=world.column("Ready", world.globex_board),
        actor=world.gina,
    )
    response = api(world.alice).get(f"{API}/cards/{theirs.pk}/history/")
    assert response.status_code == 404


def test_history_costs_the_same_queries_for_a_short_and_a_long_life(
    world, api, django_assert_max_num_queries
):
    short, long = lived(world, edits=1), lived(world, edits=40)
    client = api(world.bob)
    client.get(f"{API}/cards/{short.pk}/history/")  # warm: the token's first use

    # authentication and rate limit, the card's access, its moves, changes, comments
    with django_assert_max_num_queries(8) as short_queries:
        assert client.get(f"{API}/cards/{short.pk}/history/").status_code == 200
    with django_assert_max_num_queries(8) as long_queries:
        response = client.get(f"{API}/cards/{long.pk}/history/?page_size=100")
    assert response.json()["count"] == 47
    assert len(long_queries) == len(short_queries)
