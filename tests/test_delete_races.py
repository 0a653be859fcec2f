"""Deleting a board or a card while others write to it, on real Postgres transactions: every
writer gets a clear answer (done, 404 not found, 409 conflict), never a 500, and nothing is
left half-deleted."""

import random
import time

import pytest
from django.db import connection
from rest_framework.test import APIClient

from accounts.services import create_api_token
from boards import services
from boards.models import Block, Board, Card, CardMove, Comment, Event
from tests.test_concurrency import pool_room, run_together  # noqa: F401  (a fixture)

pytestmark = [pytest.mark.concurrency, pytest.mark.django_db(transaction=True)]

ROUNDS = 10
WRITERS = 6
CLEAR_ANSWERS = {200, 201, 204, 404, 409}


def client_of(user) -> APIClient:
    _, key = create_api_token(user=user)
    client = APIClient(HTTP_AUTHORIZATION=f"Token {key}")
    client.raise_request_exception = False  # a crash is a 500 answer, as a script would see
    return client


def writer(client: APIClient, board_id: int, card_ids: list[int], column_ids: list[int], seed):
    """Write to the board in every way the API offers until what it writes to is gone (or
    10 s have passed); the statuses, with the body of anything unclear."""
    rng = random.Random(seed)
    statuses: list[tuple[int, str]] = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        card = rng.choice(card_ids)
        kind = rng.randrange(9)
        if kind == 0:
            r = client.post(
                f"/api/v1/cards/{card}/move/",
                {"column": rng.choice(column_ids), "position": rng.randrange(4)},
                format="json",
            )
        elif kind == 1:
            r = client.post(
                f"/api/v1/boards/{board_id}/cards/",
                {"title": "new", "column": rng.choice(column_ids)},
                format="json",
            )
        elif kind == 2:
            r = client.post(f"/api/v1/cards/{card}/comments/", {"body": "hi"}, format="json")
        elif kind == 3:
            r = client.post(f"/api/v1/cards/{card}/block/", {"reason": "waiting"}, format="json")
        elif kind == 4:
            r = client.post(f"/api/v1/cards/{card}/unblock/")
        elif kind == 5:
            r = client.patch(f"/api/v1/cards/{card}/", {"title": f"t{seed}"}, format="json")
        elif kind == 6:
            r = client.post(
                f"/api/v1/boards/{board_id}/labels/", {"name": f"l{rng.random()}"}, format="json"
            )
        elif kind == 7:
            r = client.post(f"/api/v1/boards/{board_id}/swimlanes/", {"name": "x"}, format="json")
        else:
            r = client.patch(f"/api/v1/boards/{board_id}/", {"name": f"b{seed}"}, format="json")
        body = "" if r.status_code in CLEAR_ANSWERS else r.content.decode()[:300]
        statuses.append((r.status_code, body))
        if r.status_code == 404:
            break  # its card or board is gone: nothing more to write
    return statuses


def board_with_cards(world, n: int = 12) -> tuple[Board, list[int], list[int]]:
    board = services.create_board(team=world.sales, name="Doomed", actor=world.alice)
    columns = list(board.columns.order_by("position"))
    cards = [
        services.create_card(board, title=f"c{i}", column=columns[i % 4], actor=world.alice).pk
        for i in range(n)
    ]
    return board, cards, [c.pk for c in columns]


def race(delete, writes) -> list[tuple[int, str]]:
    """Run the delete and the writers together; the writers' unclear answers."""
    outcomes = run_together([delete, *writes])
    assert all(o.error is None for o in outcomes), [o.error for o in outcomes]
    assert outcomes[0].value == 204, outcomes[0].value
    connection.close()
    return [s for o in outcomes[1:] for s in o.value if s[0] not in CLEAR_ANSWERS]


def delete_after(client: APIClient, url: str, seconds: float = 0.05):
    def delete() -> int:
        time.sleep(seconds)  # in the middle of the writes
        return client.delete(url).status_code

    return delete


def writes(clients, board_id: int, cards: list[int], columns: list[int], seed: int):
    return [
        lambda c=c, i=i: writer(c, board_id, cards, columns, seed=seed + i)
        for i, c in enumerate(clients)
    ]


def test_deleting_a_board_while_others_write_to_it_answers_clearly_every_time(world):
    clients = [client_of(world.bob) for _ in range(WRITERS)]
    owner = client_of(world.alice)
    for round_ in range(ROUNDS):
        board, cards, columns = board_with_cards(world)
        delete = delete_after(owner, f"/api/v1/boards/{board.pk}/")
        unclear = race(delete, writes(clients, board.pk, cards, columns, seed=round_ * 100))
        assert unclear == [], f"round {round_}: {unclear[:3]}"
        # nothing of the board is left behind
        assert not Board.objects.filter(pk=board.pk).exists()
        assert not Card.objects.filter(board_id=board.pk).exists()
        assert not Event.objects.filter(board_id=board.pk).exists()


def test_deleting_a_card_while_others_write_to_it_answers_clearly_every_time(world):
    clients = [client_of(world.bob) for _ in range(WRITERS)]
    deleter = client_of(world.alice)
    board, _, columns = board_with_cards(world, n=4)
    for round_ in range(ROUNDS):
        doomed = services.create_card(
            board, title="doomed", column=board.columns.first(), actor=world.alice
        ).pk
        delete = delete_after(deleter, f"/api/v1/cards/{doomed}/")
        unclear = race(delete, writes(clients, board.pk, [doomed], columns, seed=round_ * 100))
        assert unclear == [], f"round {round_}: {unclear[:3]}"
        assert not Card.objects.filter(pk=doomed).exists()
        for model in (CardMove, Comment, Block):
            assert not model.objects.filter(card_id=doomed).exists()


@pytest.mark.parametrize("statement", ["fk", "deadlock"])
def test_a_write_that_still_collides_in_the_database_answers_409_to_retry(
    world, api, monkeypatch, statement
):
    # The net under the services' locks: a real foreign-key violation or deadlock error from
    # Postgres, raised inside a write, is a 409 the client may retry, not a 500.
    def colliding(card, **kwargs):
        with connection.cursor() as cursor:
            if statement == "fk":
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                cursor.execute(
                    "INSERT INTO boards_comment (card_id, author_id, body, body_html, created_at)"
                    " VALUES (999999999, NULL, 'x', 'x', now())"
                )
            else:
                cursor.execute(
                    "DO $$ BEGIN RAISE EXCEPTION 'deadlock detected' "
                    "USING ERRCODE = 'deadlock_detected'; END $$"
                )

    monkeypatch.setattr(services, "add_comment", colliding)
    card = services.create_card(world.board, title="A", column=world.column("Ready"),
                                actor=world.bob)  # fmt: skip
    response = api(world.bob).post(f"/api/v1/cards/{card.pk}/comments/", {"body": "x"})
    assert response.status_code == 409
    assert response.json()["code"] == "conflict"
