"""Cards keep their place by rank: a card placed between two others takes a rank between theirs
and no other card is renumbered, so a move into a cell of 50,000 cards costs what a move into
one of 50 does."""

import itertools
import random

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from boards import selectors, services
from boards.models import RANK_GAP, Card, Cell
from tests.factories import assert_cells_consistent, position_of

pytestmark = pytest.mark.django_db


def cell_order(column, lane) -> list[int]:
    return list(
        Card.objects.filter(column=column, swimlane=lane, archived=False)
        .order_by("rank")
        .values_list("id", flat=True)
    )


def test_cards_placed_again_and_again_between_the_same_two_neighbours_keep_their_order(world):
    """Each insert halves the gap after the first card: the 33rd finds no room and the cell is
    respaced, and the order is the plain list's throughout."""
    ready = world.column("Ready")
    lane = world.board.swimlanes.get()
    model = [
        services.create_card(world.board, title=f"edge {i}", column=ready, actor=world.bob).pk
        for i in range(2)
    ]
    for i in range(40):
        card = services.create_card(
            world.board, title=f"c{i}", column=ready, position=1, actor=world.bob
        )
        model.insert(1, card.pk)
        assert cell_order(ready, lane) == model
    ranks = list(Card.objects.filter(column=ready).order_by("rank").values_list("rank", flat=True))
    assert all(b - a >= 2 for a, b in itertools.pairwise(ranks))  # respaced on the way
    assert [position_of(Card(pk=pk)) for pk in model] == list(range(len(model)))
    assert_cells_consistent(world.board)


def test_moves_to_the_top_and_the_end_over_and_over_keep_the_ranks_in_bounds(world):
    ready, doing = world.column("Ready"), world.column("Doing")
    cards = [
        services.create_card(world.board, title=f"c{i}", column=ready, actor=world.bob)
        for i in range(3)
    ]
    rng = random.Random(5)
    for _ in range(60):
        card = rng.choice(cards)
        services.move_card(
            card,
            to_column=rng.choice([ready, doing]),
            position=rng.choice([0, None, 1]),
            actor=world.bob,
        )
    assert_cells_consistent(world.board)
    assert Card.objects.filter(rank__gte=2**62).count() == 0


def test_every_service_keeps_each_cells_count_equal_to_its_live_cards(world):
    ready, doing, done = world.column("Ready"), world.column("Doing"), world.column("Done")
    expedite = services.create_swimlane(world.board, name="Expedite", actor=world.alice)
    a = services.create_card(world.board, title="a", column=ready, actor=world.bob)
    b = services.create_card(
        world.board, title="b", column=ready, swimlane=expedite, actor=world.bob
    )
    services.create_cards(
        world.board,
        cards=[services.NewCard(title=f"batch {i}", column=doing) for i in range(3)],
        actor=world.alice,
    )
    services.move_card(a, to_column=doing, swimlane=expedite, actor=world.bob)
    services.move_card(b, to_column=done, actor=world.bob)
    services.archive_card(a, actor=world.bob)
    assert_cells_consistent(world.board)
    services.restore_card(a, actor=world.bob)
    assert_cells_consistent(world.board)
    services.delete_card(b, actor=world.bob)
    assert_cells_consistent(world.board)
    archived = services.create_card(world.board, title="gone", column=ready, actor=world.bob)
    services.archive_card(archived, actor=world.bob)
    services.delete_card(archived, actor=world.bob)
    assert_cells_consistent(world.board)
    assert selectors.column_as_dict(doing)["wip"] == 3 + 1  # the batch and a


def fill(column, lane, n: int) -> None:
    """n live cards at the end of the cell, written in one statement (arrangement only: the
    services would take minutes for 50,000), and counted in its Cell."""
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {Card._meta.db_table} (board_id, column_id, swimlane_id, rank, title,
                description, description_html, value, customer, class_of_service, blocked,
                block_reason, archived, created_at, updated_at)
            SELECT %s, %s, %s, i * %s, 'filler ' || i, '', '', 50, '', 'standard', false, '',
                false, %s, %s
            FROM generate_series(1, %s) AS i""",
            [column.board_id, column.pk, lane.pk, RANK_GAP, now, now, n],
        )
    Cell.objects.update_or_create(column=column, swimlane=lane, defaults={"size": n})


def card_table_activity() -> tuple[int, int]:
    """(rows updated, rows read) of the card table so far in this transaction."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT n_tup_upd, seq_tup_read + COALESCE(idx_tup_fetch, 0) "
            "FROM pg_stat_xact_user_tables WHERE relname = %s",
            [Card._meta.db_table],
        )
        return cursor.fetchone()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="Postgres' statistics")
def test_a_move_into_a_column_of_50000_cards_costs_what_one_into_50_does(world):
    """Same statements, one card row written, a handful read, wherever in the cell it lands
    (the top, the second place, the end) - where a dense position renumbered the cells."""
    lane = world.board.swimlanes.get()
    small = world.column("Review")
    big = services.create_column(world.board, name="Waiting", stage="wait", actor=world.alice)
    fill(small, lane, 50)
    fill(big, lane, 50_000)
    ready = world.column("Ready")
    costs = {}
    for column in (small, big):
        for position in (None, 0, 1):
            card = services.create_card(world.board, title="mover", column=ready, actor=world.bob)
            updated, read = card_table_activity()
            with CaptureQueriesContext(connection) as queries:
                move = services.move_card(
                    card, to_column=column, position=position, actor=world.bob
                )
            updated_after, read_after = card_table_activity()
            expected = column.cells.get().size - 1 if position is None else position
            assert move.position == expected
            costs[column.name, position] = (
                len(queries),
                updated_after - updated,
                read_after - read,
            )
    for position in (None, 0, 1):
        statements, updated, read = costs["Waiting", position]
        assert (statements, updated) == costs["Review", position][:2]
        assert updated == 1, costs  # the card itself, no other card renumbered
        assert read < 20, costs  # neighbours and the card, not the cell
