"""Keyset paging: `?cursor=` on the lists (opt-in; the page-number answer is unchanged but for
its Link header) and `/boards/{id}/events/?after_seq=N`: has_more, next_cursor, Link, and no
row repeated or skipped while rows are inserted between pages."""

import pytest

from boards import services

pytestmark = pytest.mark.django_db


def walk(client, url, key=lambda row: row["id"]):
    """Every page of a cursor walk: its results' keys (ids), in order, following `next`."""
    seen, pages = [], 0
    while url:
        body = client.get(url).json()
        seen += [key(row) for row in body["results"]]
        assert body["has_more"] == (body["next"] is not None)
        url, pages = body["next"], pages + 1
        yield seen, body


def test_a_cursor_walk_sees_every_row_once_while_rows_are_inserted_between_pages(world, api):
    client = api(world.alice)
    for name in ["b", "d", "f", "h"]:
        services.create_board(team=world.sales, name=name, actor=world.alice)
    before = [
        b["id"] for b in client.get("/api/v1/boards/?org=acme&page_size=100").json()["results"]
    ]

    walker = walk(client, "/api/v1/boards/?org=acme&page_size=2&cursor=")
    seen, first = next(walker)
    assert first["has_more"] and first["next_cursor"]
    # rows land before and after where the walk is, between its pages
    early = services.create_board(team=world.sales, name="a", actor=world.alice)
    late = services.create_board(team=world.sales, name="zz", actor=world.alice)
    for seen, _ in walker:  # noqa: B007 (the last page's list holds the whole walk)
        pass

    assert len(seen) == len(set(seen)), "a row came twice"
    assert set(before) <= set(seen), "a row was skipped"
    assert late.pk in seen and early.pk not in seen  # after the cursor: seen; before: not


def test_the_page_number_answer_keeps_its_four_keys_and_gains_a_link_header(world, api):
    for name in ["b", "c"]:
        services.create_board(team=world.sales, name=name, actor=world.alice)

    answer = api(world.alice).get("/api/v1/boards/?page_size=1&page=2")

    assert set(answer.json()) == {"count", "next", "previous", "results"}
    assert 'rel="next"' in answer["Link"] and 'rel="prev"' in answer["Link"]


def test_events_after_seq_page_by_seq_with_has_more_and_a_link(world, api):
    card = services.create_card(
        world.board, title="T", column=world.column("Ready"), actor=world.bob
    )
    for column in ["Doing", "Review", "Done"]:
        services.move_card(card, to_column=world.column(column), actor=world.bob)
    client = api(world.bob)
    url = f"/api/v1/boards/{world.board.pk}/events/"
    everything = [e["seq"] for e in client.get(url + "?since=0&page_size=100").json()["results"]]

    first = client.get(url + "?after_seq=1&page_size=2")
    body = first.json()

    assert [e["seq"] for e in body["results"]] == everything[1:3]
    assert body["has_more"] is True and body["next_cursor"] == str(everything[2])
    assert f"after_seq={everything[2]}" in body["next"]
    assert first["Link"] == f'<{body["next"]}>; rel="next"'
    seqs = [e["seq"] for e in body["results"]]
    while body["next"]:
        body = client.get(body["next"]).json()
        seqs += [e["seq"] for e in body["results"]]
    assert seqs == everything[1:]
    assert body["has_more"] is False and body["next_cursor"] is None


def test_a_cursor_that_was_not_given_out_is_refused(world, api):
    answer = api(world.alice).get("/api/v1/boards/?cursor=bm90LWEtY3Vyc29y")

    assert answer.status_code == 400
    assert answer.json()["code"] == "invalid"


def test_the_ranked_search_says_it_cannot_be_paged_by_cursor(world, api):
    answer = api(world.alice).get("/api/v1/cards/?q=anything&cursor=")

    assert answer.status_code == 400
    assert answer.json()["code"] == "cursor_not_supported"


def test_after_seq_must_be_a_seq(world, api):
    answer = api(world.alice).get(f"/api/v1/boards/{world.board.pk}/events/?after_seq=x")

    assert answer.status_code == 400
    assert "after_seq" in answer.json()["fields"]


def test_a_newest_first_list_pages_by_cursor_without_repeating_rows(world, api):
    card = services.create_card(
        world.board, title="T", column=world.column("Ready"), actor=world.bob
    )
    for title in ["a", "b", "c", "d"]:
        services.update_card(card, title=title, actor=world.bob)
    client = api(world.alice)
    walker = walk(
        client,
        "/api/v1/orgs/acme/activity/?page_size=2&cursor=",
        key=lambda row: (row["board"], row["seq"]),
    )
    seen, _ = next(walker)
    services.update_card(card, title="newer than the walk", actor=world.bob)
    for seen, _ in walker:  # noqa: B007
        pass

    everything = client.get("/api/v1/orgs/acme/activity/?page_size=100").json()["results"]
    assert len(seen) == len(set(seen)) == len(everything) - 1  # the newer row is before the cursor
