"""Read paths cost a fixed number of queries however many cards a board holds, and a move stays
cheap. Each test reads a board of 10 cards and one of 1,000 and compares.

The 10-card boards are made through the services, as everywhere else; the 1,000-card board is
bulk-inserted only because 1,000 service calls would take most of a minute. Its rows are what
the services would write for the reads measured here: dense positions per (column, swimlane),
timestamps set, assignees and labels through the M2M tables.
"""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from boards import selectors, services
from boards.models import Board, Card
from tests.factories import bulk_add_cards

pytestmark = pytest.mark.django_db

BIG = 1_000

# Measured (Postgres, this revision) and set exactly: a read that starts costing a query more
# per card, or an extra query at all, fails here first.
# The board's JSON, built: token, board with access, its seq, then the snapshot's other six
# reads (its seq is the one just read).
BOARD_DETAIL_QUERIES = 9
# Read again while the board has not changed: token, board with access, seq.
BOARD_DETAIL_KEPT_QUERIES = 3
BOARD_SNAPSHOT_QUERIES = 7  # seq, columns, swimlanes, labels, cards, their relations,
#                             people
CARD_PAGE_QUERIES = 6  # token, count, page of ids, cards, assignees, labels
BOARD_LIST_QUERIES = 3  # token, count, page of boards with access and card counts
# A move through the API, measured 7 statements inside the test's transaction (5 and BEGIN,
# COMMIT in production, where the service's atomic block is the transaction, not a savepoint):
# the token and its user; savepoint; both columns locked, with the actor's access, the card
# locked, with the target's WIP and cell size, the card's index and its new neighbours' ranks,
# and its assignees and labels read (services.moves._move_sql); every write in one: the history
# row, the two cells' counts, the card, and seq and event; release. However many cards the
# cells hold (tests/test_card_ranks.py). The service sends its four in two round trips
# (MOVE_SERVICE_ROUND_TRIPS).
MOVE_MAX_QUERIES = 7
MOVE_SERVICE_ROUND_TRIPS = 2


def client_for(api, user) -> APIClient:
    """A token client whose first request is already made: a token's first use records
    `last_used_at` (one UPDATE a minute), which would otherwise land in the first count."""
    client = api(user)
    assert client.get("/api/v1/me/").status_code == 200
    return client


def new_board(world, name: str) -> Board:
    board = services.create_board(team=world.sales, name=name, actor=world.alice)
    for label in ("bug", "customer", "tech debt"):
        services.create_label(board, name=label, actor=world.alice)
    return board


def fill_with_services(world, board: Board, n: int) -> None:
    columns = list(board.columns.order_by("position"))
    labels = list(board.labels.all())
    people = [world.alice, world.bob]
    for i in range(n):
        services.create_card(
            board,
            title=f"card {i}",
            column=columns[i % len(columns)],
            assignees=people[: i % 3],
            labels=labels[: i % 4],
            actor=world.alice,
        )


def fill_in_bulk(world, board: Board, n: int) -> list[int]:
    """`n` live cards spread over every column and swimlane, ranked in each cell (and counted)."""
    columns = list(board.columns.order_by("position"))
    lanes = list(board.swimlanes.order_by("position"))
    labels = list(board.labels.all())
    people = [world.alice, world.bob]
    now = timezone.now()
    cards = []
    for i in range(n):
        column, lane = columns[i % len(columns)], lanes[(i // len(columns)) % len(lanes)]
        created = now - timedelta(days=i % 30)
        cards.append(
            Card(
                board=board,
                column=column,
                swimlane=lane,
                title=f"bulk card {i}",
                description=f"Card number {i}",
                description_html=f"<p>Card number {i}</p>",
                value=i % 101,
                created_by=world.alice,
                created_at=created,
                updated_at=created,
                committed_at=None if column.stage == "backlog" else created,
            )
        )
    cards = bulk_add_cards(cards)
    Card.assignees.through.objects.bulk_create(
        Card.assignees.through(card_id=card.pk, user_id=user.pk)
        for i, card in enumerate(cards)
        for user in people[: i % 3]
    )
    Card.labels.through.objects.bulk_create(
        Card.labels.through(card_id=card.pk, label_id=label.pk)
        for i, card in enumerate(cards)
        for label in labels[: i % 4]
    )
    return [card.pk for card in cards]


@pytest.fixture
def boards(world):
    """A board of 10 cards (made by the services) and one of 1,000 (bulk) with 2 swimlanes."""
    small = new_board(world, "Small")
    fill_with_services(world, small, 10)
    big = new_board(world, "Big")
    services.create_swimlane(big, name="Expedite", actor=world.alice)
    big_ids = fill_in_bulk(world, big, BIG)
    return small, big, big_ids


def test_board_detail_costs_the_same_queries_for_10_and_1000_cards(
    world, api, boards, django_assert_num_queries
):
    small, big, big_ids = boards
    client = client_for(api, world.alice)

    with django_assert_num_queries(BOARD_DETAIL_QUERIES):
        small_response = client.get(f"/api/v1/boards/{small.pk}/")
    with django_assert_num_queries(BOARD_DETAIL_QUERIES):
        big_response = client.get(f"/api/v1/boards/{big.pk}/")

    assert small_response.status_code == big_response.status_code == 200
    assert len(small_response.json()["cards"]) == 10
    cards = big_response.json()["cards"]
    assert sorted(c["id"] for c in cards) == sorted(big_ids)
    # the relations made it through the two through-table queries
    assert any(c["assignees"] == [world.alice.pk, world.bob.pk] for c in cards)
    assert any(len(c["labels"]) == 3 for c in cards)
    assert sum(c["wip"] for c in big_response.json()["columns"]) == BIG

    # read again, unchanged: the JSON kept for its seq, whatever the number of cards
    with django_assert_num_queries(BOARD_DETAIL_KEPT_QUERIES):
        again = client.get(f"/api/v1/boards/{big.pk}/")
    assert again.content == big_response.content


def test_board_snapshot_selector_costs_the_same_queries_for_10_and_1000_cards(
    world, boards, django_assert_num_queries
):
    small, big, big_ids = boards
    # as the views pass it: fetched with its team and organisation
    small = selectors.get_board_for_user(world.alice, small.pk)
    big = selectors.get_board_for_user(world.alice, big.pk)

    with django_assert_num_queries(BOARD_SNAPSHOT_QUERIES):
        small_snapshot = selectors.board_snapshot(small)
    with django_assert_num_queries(BOARD_SNAPSHOT_QUERIES):
        big_snapshot = selectors.board_snapshot(big)

    assert len(small_snapshot["cards"]) == 10
    assert sorted(c["id"] for c in big_snapshot["cards"]) == sorted(big_ids)
    assert {p["username"] for p in big_snapshot["people"]} >= {"alice", "bob"}


def test_card_search_pages_cost_the_same_queries_for_10_and_1000_cards(
    world, api, boards, django_assert_num_queries
):
    small, big, big_ids = boards
    client = client_for(api, world.alice)

    with django_assert_num_queries(CARD_PAGE_QUERIES):
        small_page = client.get("/api/v1/cards/", {"board": small.pk, "page_size": 500}).json()
    big_pages = []
    for page in (1, 2):
        with django_assert_num_queries(CARD_PAGE_QUERIES):
            response = client.get(
                "/api/v1/cards/", {"board": big.pk, "page_size": 500, "page": page}
            )
        assert response.status_code == 200
        big_pages.append(response.json())

    assert small_page["count"] == len(small_page["results"]) == 10
    assert big_pages[0]["count"] == BIG
    assert big_pages[1]["next"] is None
    found = [c["id"] for page in big_pages for c in page["results"]]
    assert sorted(found) == sorted(big_ids)
    assert all(c["board"] == big.pk for page in big_pages for c in page["results"])


def test_board_list_costs_the_same_queries_for_few_and_many_boards_and_cards(
    world, api, django_assert_num_queries
):
    client = client_for(api, world.alice)
    few = new_board(world, "Few cards")
    fill_with_services(world, few, 10)

    with django_assert_num_queries(BOARD_LIST_QUERIES):
        before = client.get("/api/v1/boards/").json()

    for i in range(4):
        fill_with_services(world, new_board(world, f"Board {i}"), 3)
    big = new_board(world, "Big")
    fill_in_bulk(world, big, BIG)

    with django_assert_num_queries(BOARD_LIST_QUERIES):
        after = client.get("/api/v1/boards/").json()

    # alice sees her organisation's boards only: the fixture's board and the ones made here
    assert before["count"] == 2
    assert after["count"] == 7
    cards = {b["name"]: b["cards"] for b in after["results"]}
    assert cards["Big"] == BIG
    assert cards["Few cards"] == 10
    assert all(b["can_write"] for b in after["results"])


def test_a_move_through_the_api_costs_a_bounded_number_of_queries(
    world, api, boards, django_assert_max_num_queries
):
    small, big, _ = boards
    client = client_for(api, world.bob)
    doing = big.columns.get(name="Doing")
    card = Card.objects.filter(board=big, column__name="Ready").order_by("rank").first()

    # into the middle of a full-ish column of the 1,000-card board: positions shift in bulk
    with django_assert_max_num_queries(MOVE_MAX_QUERIES) as captured:
        response = client.post(
            f"/api/v1/cards/{card.pk}/move/", {"column": doing.pk, "position": 3}
        )

    assert response.status_code == 200, response.json()
    assert response.json()["moved"] is True
    assert response.json()["card"]["column"] == doing.pk
    assert response.json()["card"]["position"] == 3
    # the move costs the same on a 10-card board: nothing in it grows with the cards
    small_card = Card.objects.filter(board=small, column__name="Ready").first()
    small_doing = small.columns.get(name="Doing")
    with django_assert_max_num_queries(MOVE_MAX_QUERIES) as small_captured:
        response = client.post(
            f"/api/v1/cards/{small_card.pk}/move/", {"column": small_doing.pk, "position": 1}
        )
    assert response.status_code == 200
    assert len(small_captured.captured_queries) == len(captured.captured_queries)


class RoundTrips:
    """Counts the round trips of the statements run while it is installed
    (connection.execute_wrapper): a statement sent apart is one, and the statements of one
    pipeline (kanban.sql.fetch_many) are one together."""

    def __init__(self) -> None:
        self.pipelines: list[object] = []
        self.apart = 0

    def __call__(self, execute, sql, params, many, context):
        pipeline = context["connection"].connection._pipeline
        if pipeline is None:
            self.apart += 1
        elif not self.pipelines or self.pipelines[-1] is not pipeline:
            self.pipelines.append(pipeline)
        return execute(sql, params, many, context)

    @property
    def count(self) -> int:
        return self.apart + len(self.pipelines)


def test_a_move_is_two_round_trips_to_postgres_however_many_statements(world, boards):
    # The locks and the reads under them go together, then every write: the locks a move
    # holds, which the other moves of its columns and board wait for, are held for two
    # round trips and the commit, not one each per statement.
    _, big, _ = boards
    card = Card.objects.filter(board=big, column__name="Ready").order_by("rank").first()
    doing = big.columns.get(name="Doing")
    trips = RoundTrips()
    with CaptureQueriesContext(connection) as captured, connection.execute_wrapper(trips):
        move = services.move_card(card, to_column=doing, position=2, actor=world.bob)

    assert move is not None and move.position == 2
    assert Card.objects.get(pk=card.pk).column_id == doing.pk
    # (the savepoint and its release, of the test's transaction, are sent apart)
    assert trips.count - 2 == MOVE_SERVICE_ROUND_TRIPS
    assert len(captured) - 2 == 4  # lock columns, lock card, relations; every write


def test_a_move_that_starts_work_of_a_limited_class_costs_two_statements_more(
    world, api, boards, django_assert_max_num_queries
):
    # The class's limit is read in the move's locking statement; only a board with a limit on
    # the card's class, for a card entering progress, pays the row lock and the count.
    _, big, _ = boards
    services.set_service_level(big, class_of_service="standard", wip_limit=999, actor=world.alice)
    client = client_for(api, world.bob)
    card = Card.objects.filter(board=big, column__name="Backlog").order_by("rank").first()
    assert card is not None and card.class_of_service == "standard"
    ready = big.columns.get(name="Ready")
    with django_assert_max_num_queries(MOVE_MAX_QUERIES + 2) as captured:
        response = client.post(f"/api/v1/cards/{card.pk}/move/", {"column": ready.pk})
    assert response.status_code == 200, response.json()
    sql = " ".join(q["sql"] for q in captured.captured_queries)
    assert "boards_servicelevel" in sql and "FOR NO KEY UPDATE" in sql
