"""Moves and creates racing on real Postgres transactions.

Every worker runs in its own thread with its own connection (Django's connections are per
thread; with DB_POOL they come from psycopg's pool) and closes it when done, so that the pool
gets it back and the test database can be flushed. Workers connect, wait on a barrier and start
together.
"""

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import connection, transaction
from rest_framework.test import APIClient

from boards import services
from boards.models import Board, Card, CardMove, Event, WipPolicy
from kanban.exceptions import WipLimitExceeded
from tests.factories import assert_cells_consistent

pytestmark = [pytest.mark.concurrency, pytest.mark.django_db(transaction=True)]

JOIN_TIMEOUT = 60  # seconds; a hung worker fails the test instead of hanging the run
MOST_CONNECTIONS = 24  # the largest race here: 20 movers, a watcher and the test itself


@pytest.fixture(autouse=True)
def pool_room():
    """Room in psycopg's pool for every worker to hold a connection at once.

    Workers connect before the barrier so that they really start together; the pool's
    configured maximum (DB_POOL_MAX, 20 by default) is smaller than the largest race, and a
    worker left waiting for a slot before the barrier would stall all the others. The size is
    restored afterwards; without DB_POOL there is no pool and nothing to do.
    """
    pool = connection.pool
    if pool is None or pool.max_size >= MOST_CONNECTIONS:
        yield
        return
    min_size, max_size = pool.min_size, pool.max_size
    pool.resize(min_size, MOST_CONNECTIONS)
    try:
        yield
    finally:
        pool.resize(min_size, max_size)


@dataclass
class Outcome:
    value: Any = None
    error: BaseException | None = None


def run_together(workers: list[Callable[[], Any]]) -> list[Outcome]:
    """Run each worker in its own thread, all released at once by a barrier; return what each
    returned or raised, in order."""
    barrier = threading.Barrier(len(workers))
    outcomes = [Outcome() for _ in workers]

    def run(i: int, work: Callable[[], Any]) -> None:
        try:
            try:
                connection.ensure_connection()
            except BaseException:
                barrier.abort()  # the others would wait for this one in vain
                raise
            barrier.wait(timeout=JOIN_TIMEOUT)
            outcomes[i].value = work()
        except BaseException as exc:
            outcomes[i].error = exc
        finally:
            connection.close()  # this thread's connection, back to the pool

    # The test's own connection goes back to the pool too: the workers need the slots.
    connection.close()
    threads = [threading.Thread(target=run, args=(i, w)) for i, w in enumerate(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN_TIMEOUT)
    assert not any(t.is_alive() for t in threads), "a worker hung (lock wait or pool wait)"
    return outcomes


def describe(error: BaseException) -> str:
    cause = error.__cause__
    return f"{type(error).__name__}: {error}" + (f" (from {type(cause).__name__})" if cause else "")


def cells(board: Board) -> dict[tuple[int, int], list[int]]:
    """Live card ids per (column, swimlane), in position order."""
    result: dict[tuple[int, int], list[int]] = {}
    for card_id, column_id, swimlane_id in (
        Card.objects.filter(board=board, archived=False)
        .order_by("column_id", "swimlane_id", "rank")
        .values_list("id", "column_id", "swimlane_id")
    ):
        result.setdefault((column_id, swimlane_id), []).append(card_id)
    return result


def assert_log_gap_free(board: Board) -> list[Event]:
    events = list(Event.objects.filter(board=board).order_by("seq"))
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    board.refresh_from_db()
    assert board.last_seq == len(events)
    return events


def replay(events: list[Event]) -> dict[tuple[int, int], list[int]]:
    """The board's cells rebuilt from its event log alone, as a viewer applying events in seq
    order would; each move must find the card where the log says it was."""
    state: dict[tuple[int, int], list[int]] = {}
    for event in events:
        if event.type == "card.created":
            card = event.data["card"]
            cell = (card["column"], card["swimlane"])
            state.setdefault(cell, []).insert(card["position"], card["id"])
        elif event.type == "card.moved":
            data, card_id = event.data, event.data["card"]["id"]
            source = state[(data["from_column"], data["from_swimlane"])]
            assert source.index(card_id) == data["from_position"], (event.seq, data)
            source.remove(card_id)
            target = state.setdefault((data["to_column"], data["to_swimlane"]), [])
            target.insert(data["position"], card_id)
    return {cell: ids for cell, ids in state.items() if ids}


def make_cards(world, column, n, swimlane=None) -> list[Card]:
    return [
        services.create_card(
            world.board, title=f"card {i}", column=column, swimlane=swimlane, actor=world.alice
        )
        for i in range(n)
    ]


class DoingWatcher(threading.Thread):
    """Polls the live card count of a column (autocommit, READ COMMITTED: it sees every commit)
    until stopped, and keeps the largest count seen."""

    def __init__(self, column_id: int) -> None:
        super().__init__()
        self.column_id = column_id
        self.stop = threading.Event()
        self.max_seen = -1
        self.samples = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while True:
                stopping = self.stop.is_set()  # one last sample after the race is over
                n = Card.objects.filter(column_id=self.column_id, archived=False).count()
                self.max_seen, self.samples = max(self.max_seen, n), self.samples + 1
                if stopping:
                    return
        except BaseException as exc:
            self.error = exc
        finally:
            connection.close()


# --- a) a hard WIP limit holds against 20 simultaneous pulls ----------------------------------


@pytest.mark.parametrize("via", ["service", "rest"])
def test_twenty_simultaneous_pulls_into_a_hard_limit_of_five_let_exactly_five_in(world, api, via):
    # given: Doing has a hard limit of 5 and is empty; 20 cards wait in Ready
    ready, doing = world.column("Ready"), world.column("Doing")
    services.update_column(doing, wip_limit=5, wip_policy=WipPolicy.HARD, actor=world.alice)
    cards = make_cards(world, ready, 20)
    seq_before = Event.objects.filter(board=world.board).count()
    if via == "service":
        workers = [
            lambda card=card: services.move_card(card, to_column=doing, actor=world.bob)
            for card in cards
        ]
    else:
        clients = [api(world.bob) for _ in cards]  # tokens are made here, before the race

        def pull(client: APIClient, card: Card):
            return client.post(f"/api/v1/cards/{card.pk}/move/", {"column": doing.pk})

        workers = [
            lambda c=client, card=card: pull(c, card)
            for client, card in zip(clients, cards, strict=True)
        ]

    # when: all 20 pull at once while a watcher counts Doing
    watcher = DoingWatcher(doing.pk)
    watcher.start()
    try:
        outcomes = run_together(workers)
    finally:
        watcher.stop.set()
        watcher.join(JOIN_TIMEOUT)

    # then: exactly 5 got in, 15 were refused, and nothing else went wrong
    if via == "service":
        unexpected = [
            describe(o.error)
            for o in outcomes
            if o.error is not None and not isinstance(o.error, WipLimitExceeded)
        ]
        assert unexpected == []
        moved = [card.pk for card, o in zip(cards, outcomes, strict=True) if o.error is None]
        refused = [card.pk for card, o in zip(cards, outcomes, strict=True) if o.error]
        assert all(o.value is not None for o in outcomes if o.error is None)
    else:
        errors = [describe(o.error) for o in outcomes if o.error is not None]
        assert errors == []
        statuses = [o.value.status_code for o in outcomes]
        assert sorted(set(statuses)) == [200, 409], statuses
        moved = [card.pk for card, s in zip(cards, statuses, strict=True) if s == 200]
        refused = [card.pk for card, s in zip(cards, statuses, strict=True) if s == 409]
        assert all(
            o.value.json()["code"] == "wip_limit_exceeded"
            for o in outcomes
            if o.value.status_code == 409
        )
        assert all(o.value.json()["moved"] for o in outcomes if o.value.status_code == 200)
    assert (len(moved), len(refused)) == (5, 15)

    # Doing never held more than 5, and holds exactly the 5 winners now
    assert watcher.error is None, describe(watcher.error)
    assert watcher.samples >= 2
    assert watcher.max_seen <= 5
    board_cells = cells(world.board)
    lane = cards[0].swimlane_id
    assert sorted(board_cells[(doing.pk, lane)]) == sorted(moved)
    # the refused cards are still in Ready, in their original order, at dense positions
    assert board_cells[(ready.pk, lane)] == refused
    assert_cells_consistent(world.board)

    # history: one creation per card, one move per winner, nothing for the refused
    history = CardMove.objects.filter(board=world.board)
    assert history.filter(from_column__isnull=True).count() == 20
    moves = history.filter(from_column__isnull=False)
    assert sorted(moves.values_list("card_id", flat=True)) == sorted(moved)
    assert set(moves.values_list("to_column_id", flat=True)) == {doing.pk}

    # the log: what was there before, then exactly 5 card.moved, gap-free
    events = assert_log_gap_free(world.board)
    after = events[seq_before:]
    assert [e.type for e in after] == ["card.moved"] * 5
    assert sorted(e.data["card"]["id"] for e in after) == sorted(moved)
    assert replay(events) == board_cells


# --- b) random moves from 10 threads never deadlock and leave a consistent board ---------------


def test_random_concurrent_moves_keep_cells_dense_history_complete_and_log_gap_free(world):
    # given: 40 cards over the 5 columns and 2 swimlanes, no hard limits
    rng = random.Random(20240611)
    columns = list(world.board.columns.order_by("position"))
    lanes = [
        world.board.swimlanes.get(),
        services.create_swimlane(world.board, name="Expedite", actor=world.alice),
    ]
    cards = [
        services.create_card(
            world.board,
            title=f"c{i}",
            column=rng.choice(columns),
            swimlane=rng.choice(lanes),
            actor=world.alice,
        )
        for i in range(40)
    ]
    card_ids = [c.pk for c in cards]
    per_thread, threads = 50, 10

    def mover(seed: int) -> tuple[int, list[str]]:
        rng = random.Random(seed)
        moved, errors = 0, []
        for _ in range(per_thread):
            card = Card.objects.select_related("board").get(pk=rng.choice(card_ids))
            try:
                move = services.move_card(
                    card,
                    to_column=rng.choice(columns),
                    swimlane=rng.choice(lanes),
                    position=rng.randint(0, 10),
                    actor=world.alice,
                )
            except Exception as exc:  # a deadlock here is a bug in the lock order
                errors.append(describe(exc))
                continue
            moved += move is not None
        return moved, errors

    # when
    outcomes = run_together([lambda s=seed: mover(s) for seed in range(threads)])

    # then: no worker failed, no move raised (no DeadlockDetected, no unique violation)
    assert [describe(o.error) for o in outcomes if o.error] == []
    errors = [e for o in outcomes for e in o.value[1]]
    assert errors == [], f"{len(errors)} failed moves, e.g. {errors[:3]}"
    successful = sum(o.value[0] for o in outcomes)
    assert successful > 0

    # every card is in exactly one place: one live row each, positions dense and unique
    live = Card.objects.filter(board=world.board)
    assert live.count() == 40
    assert not live.filter(archived=True).exists()
    assert not live.filter(rank__isnull=True).exists()
    assert_cells_consistent(world.board)
    board_cells = cells(world.board)
    assert sorted(i for ids in board_cells.values() for i in ids) == sorted(card_ids)

    # history: one row per creation and one per successful move; each card's last history row
    # says where it is
    history = CardMove.objects.filter(board=world.board)
    assert history.count() == 40 + successful
    for card in Card.objects.filter(board=world.board):
        last = history.filter(card=card).order_by("-id").first()
        assert (last.to_column_id, last.to_swimlane_id) == (card.column_id, card.swimlane_id)

    # the log is gap-free, holds one card.moved per successful move, and replaying it in seq
    # order rebuilds exactly the board
    events = assert_log_gap_free(world.board)
    assert sum(e.type == "card.moved" for e in events) == successful
    assert replay(events) == board_cells


# --- c) simultaneous creates into one cell -------------------------------------------------------


def test_concurrent_creates_into_one_cell_keep_positions_dense_and_unique(world):
    # given
    ready = world.column("Ready")
    lane = world.board.swimlanes.get()
    per_thread, threads = 5, 10
    make_cards(world, ready, 3, swimlane=lane)

    def creator(seed: int) -> list[int]:
        rng = random.Random(seed)
        ids = []
        for i in range(per_thread):
            # half at the end, half somewhere in the middle, so that creates shift each other
            position = rng.choice([None, rng.randint(0, 6)])
            card = services.create_card(
                world.board,
                title=f"t{seed}-{i}",
                column=ready,
                swimlane=lane,
                position=position,
                actor=world.bob,
            )
            ids.append(card.pk)
        return ids

    # when
    outcomes = run_together([lambda s=seed: creator(s) for seed in range(threads)])

    # then
    assert [describe(o.error) for o in outcomes if o.error] == []
    created = [i for o in outcomes for i in o.value]
    assert len(created) == per_thread * threads
    board_cells = cells(world.board)
    assert len(board_cells[(ready.pk, lane.pk)]) == 3 + per_thread * threads
    assert set(created) <= set(board_cells[(ready.pk, lane.pk)])
    assert_cells_consistent(world.board)
    events = assert_log_gap_free(world.board)
    assert sum(e.type == "card.created" for e in events) == 3 + per_thread * threads
    assert CardMove.objects.filter(board=world.board).count() == 3 + per_thread * threads
    assert replay(events) == board_cells


def test_a_move_that_waits_for_an_edit_of_its_card_carries_the_edit_in_its_event(world):
    card = services.create_card(
        world.board, title="edited while moving", column=world.column("Ready"), actor=world.alice
    )
    edit_holds_the_card = threading.Event()

    def edit() -> None:
        with transaction.atomic():
            services.update_card(card, assignees=[world.bob], actor=world.alice)
            edit_holds_the_card.set()
            time.sleep(0.5)  # the move meanwhile waits for the card's lock

    def move():
        assert edit_holds_the_card.wait(10)
        return services.move_card(card.pk, to_column=world.column("Doing"), actor=world.bob)

    edited, moved = run_together([edit, move])

    assert edited.error is None and moved.error is None, (edited.error, moved.error)
    # the move's answer and its event show the card as the edit left it, not as it was
    assert moved.value.card_data["assignees"] == [world.bob.pk]
    event = Event.objects.get(board=world.board, seq=moved.value.seq)
    assert event.data["card"]["assignees"] == [world.bob.pk]
    assert event.seq > Event.objects.get(board=world.board, type="card.updated").seq


# --- e) a class of service's hard WIP limit across columns ---------------------------------------


def test_ten_expedite_cards_starting_at_once_into_two_columns_let_exactly_the_limit_in(world):
    # given: at most 2 expedite cards in progress (hard); 5 wait in the backlog for Ready and
    # 5 reopen from Done into Doing: the two groups lock disjoint columns, so only the class's
    # row orders them
    services.set_service_level(
        world.board, class_of_service="expedite", wip_limit=2, wip_policy="hard", actor=world.alice
    )
    moves = [
        (world.column("Backlog"), world.column("Ready")),
        (world.column("Done"), world.column("Doing")),
    ]
    cards = [
        (
            services.create_card(
                world.board,
                title=f"Fire {i}",
                column=moves[i % 2][0],
                class_of_service="expedite",
                actor=world.alice,
            ),
            moves[i % 2][1],
        )
        for i in range(10)
    ]

    # when: all ten start at once
    outcomes = run_together(
        [
            lambda card=card, to=to: services.move_card(card, to_column=to, actor=world.bob)
            for card, to in cards
        ]
    )

    # then: two got in, eight were refused as over the class's limit, nothing else went wrong
    unexpected = [
        describe(o.error)
        for o in outcomes
        if o.error is not None and not isinstance(o.error, WipLimitExceeded)
    ]
    assert unexpected == []
    assert sum(o.error is None for o in outcomes) == 2
    in_progress = Card.objects.filter(
        board=world.board, class_of_service="expedite", column__stage__in=["wait", "active"]
    )
    assert in_progress.count() == 2
    assert_cells_consistent(world.board)
    assert_log_gap_free(world.board)


def test_moves_class_changes_and_restores_into_one_hard_class_limit_at_once_let_the_limit_in(
    world,
):
    # given: at most 2 expedite cards in progress (hard), none yet; 4 expedite cards wait in
    # the backlog, 3 standard cards in Doing are about to become expedite, 3 archived expedite
    # cards of Review are about to be restored: three services, one class row orders them all
    services.set_service_level(
        world.board, class_of_service="expedite", wip_limit=2, wip_policy="hard", actor=world.alice
    )

    def card(title, column, cos):
        return services.create_card(
            world.board, title=title, column=world.column(column), class_of_service=cos,
            actor=world.alice,
        )  # fmt: skip

    waiting = [card(f"Fire {i}", "Backlog", "expedite") for i in range(4)]
    doing = [card(f"Plain {i}", "Doing", "standard") for i in range(3)]
    archived = []
    for i in range(3):
        c = card(f"Old fire {i}", "Backlog", "expedite")
        services.move_card(c, to_column=world.column("Review"), actor=world.alice)
        c.refresh_from_db()
        archived.append(services.archive_card(c, actor=world.alice))
    ready = world.column("Ready")

    # when: all ten at once
    outcomes = run_together(
        [
            *(lambda c=c: services.move_card(c, to_column=ready, actor=world.bob) for c in waiting),
            *(
                lambda c=c: services.update_card(c, class_of_service="expedite", actor=world.bob)
                for c in doing
            ),
            *(lambda c=c: services.restore_card(c, actor=world.bob) for c in archived),
        ]
    )

    # then: two got in, eight were refused as over the class's limit, nothing else went wrong
    unexpected = [
        describe(o.error)
        for o in outcomes
        if o.error is not None and not isinstance(o.error, WipLimitExceeded)
    ]
    assert unexpected == []
    assert sum(o.error is None for o in outcomes) == 2
    in_progress = Card.objects.filter(
        board=world.board,
        class_of_service="expedite",
        archived=False,
        column__stage__in=["wait", "active"],
    )
    assert in_progress.count() == 2
    assert_cells_consistent(world.board)
    assert_log_gap_free(world.board)
