"""The batched services of imports (services.create_cards, services.add_comments): the same
rows, history and events as create_card and add_comment one by one, in a few statements; the
same rules (access, foreign objects, hard WIP limits)."""

from datetime import UTC, date, datetime, timedelta

import pytest

from boards import selectors, services
from boards.models import Board, Card, CardMove, Comment, Event, WipPolicy
from kanban.exceptions import Forbidden, InvalidInput, NotFound, WipLimitExceeded
from tests.factories import position_of

pytestmark = pytest.mark.django_db

T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)


def twin_boards(world) -> tuple[Board, Board]:
    """Two boards alike: the default columns and a label "bug" each."""
    boards = []
    for name in ("one by one", "batched"):
        board = services.create_board(team=world.sales, name=name, actor=world.alice)
        services.create_label(board, name="bug", color="#ff0000", actor=world.alice)
        boards.append(board)
    return boards[0], boards[1]


def specs(board: Board) -> list[dict]:
    columns = {c.name: c for c in board.columns.all()}
    bug = board.labels.get()
    return [
        {"title": "A", "column": columns["Backlog"], "at": T0},
        {"title": "B", "column": columns["Doing"], "labels": [bug, bug], "at": T0},
        {"title": "C", "column": columns["Done"], "description": "*done*", "at": T0},
        {"title": "D", "column": columns["Doing"], "due_date": date(2024, 4, 1), "at": T0},
        {"title": "E", "column": columns["Backlog"], "at": T0 + timedelta(hours=1)},
    ]


def comparable(board: Board) -> dict:
    """The board's cards, history and events, with ids replaced by what they name."""
    names = {c.pk: c.name for c in board.columns.all()}
    titles = dict(Card.objects.filter(board=board).values_list("pk", "title"))
    cards = [
        (
            names[c.column_id],
            position_of(c),
            c.title,
            c.description,
            c.description_html,
            c.due_date,
            c.created_by_id,
            c.committed_at,
            c.started_at,
            c.finished_at,
            c.flow_active_seconds,
            sorted(c.labels.values_list("name", flat=True)),
        )
        for c in Card.objects.filter(board=board).order_by("pk")
    ]
    moves = [
        # no column was deleted: every move has its destination
        (titles[m.card_id], m.from_column_id, names[m.to_column_id], m.to_stage, m.position)  # type: ignore[index]
        for m in CardMove.objects.filter(board=board).order_by("pk")
    ]
    events = []
    for e in Event.objects.filter(board=board, type="card.created").order_by("seq"):
        card = dict(e.data["card"])
        card.pop("age_days")
        card.update(id=titles[card["id"]], column=names[card["column"]], board=None)
        card.update(swimlane=None, labels=len(card["labels"]))
        events.append((e.type, e.actor_id, card, e.data["wip_exceeded"]))
    seqs = list(Event.objects.filter(board=board).order_by("seq").values_list("seq", flat=True))
    return {"cards": cards, "moves": moves, "events": events, "seqs": seqs}


def test_create_cards_writes_what_create_card_writes_one_by_one(world):
    one, batched = twin_boards(world)

    for spec in specs(one):
        services.create_card(one, actor=world.alice, **spec)
    created = services.create_cards(
        batched, cards=[services.NewCard(**spec) for spec in specs(batched)], actor=world.alice
    )

    assert [c.title for c in created] == ["A", "B", "C", "D", "E"]
    assert all(c.pk for c in created)
    assert comparable(batched) == comparable(one)
    assert Card.objects.get(board=batched, title="C").flow_active_seconds == 0.0


def test_create_cards_appends_after_the_cards_already_there(world):
    ready = world.column("Ready")
    services.create_card(world.board, title="first", column=ready, actor=world.alice)

    services.create_cards(
        world.board,
        cards=[services.NewCard(title=t, column=ready) for t in ("second", "third")],
        actor=world.alice,
    )

    cards = selectors.cards_as_dicts(Card.objects.filter(column=ready).order_by("rank"))
    assert [(c["title"], c["position"]) for c in cards] == [
        ("first", 0),
        ("second", 1),
        ("third", 2),
    ]


def test_a_batch_past_a_hard_limit_is_refused_whole_and_a_soft_one_flags_each_card(world):
    ready, doing = world.column("Ready"), world.column("Doing")
    services.update_column(ready, wip_limit=2, wip_policy=WipPolicy.HARD, actor=world.alice)
    services.update_column(doing, wip_limit=2, actor=world.alice)  # soft
    services.create_card(world.board, title="in", column=ready, actor=world.alice)
    before = Card.objects.count(), Event.objects.count()

    with pytest.raises(WipLimitExceeded):
        services.create_cards(
            world.board,
            cards=[services.NewCard(title=t, column=ready) for t in ("a", "b")],
            actor=world.alice,  # an owner: no override in a batch
        )
    assert (Card.objects.count(), Event.objects.count()) == before

    services.create_cards(
        world.board,
        cards=[services.NewCard(title=t, column=doing) for t in ("a", "b", "c")],
        actor=world.bob,
    )
    flags = list(
        Event.objects.filter(board=world.board, type="card.created")
        .order_by("-seq")
        .values_list("data__wip_exceeded", flat=True)[:3]
    )
    assert flags[::-1] == [False, False, True]


def test_create_cards_checks_access_and_foreign_objects(world):
    ready = world.column("Ready")
    foreign = world.globex_board.columns.first()

    with pytest.raises(Forbidden):
        services.create_cards(
            world.board, cards=[services.NewCard(title="x", column=ready)], actor=world.victor
        )
    with pytest.raises(InvalidInput):
        services.create_cards(
            world.board, cards=[services.NewCard(title="x", column=foreign)], actor=world.alice
        )
    label = services.create_label(world.globex_board, name="theirs", actor=world.gina)
    with pytest.raises(InvalidInput):
        services.create_cards(
            world.board,
            cards=[services.NewCard(title="x", column=ready, labels=[label])],
            actor=world.alice,
        )
    assert not Card.objects.filter(title="x").exists()
    assert services.create_cards(world.board, cards=[], actor=world.alice) == []


def test_add_comments_writes_what_add_comment_writes_one_by_one(world):
    ready = world.column("Ready")
    first, second = (
        services.create_card(world.board, title=t, column=ready, actor=world.alice)
        for t in ("first", "second")
    )
    services.add_comment(first, body="  one *by* one ", actor=world.bob, at=T0)
    single = Event.objects.filter(type="card.commented").order_by("-seq").first()

    comments = services.add_comments(
        world.board,
        comments=[
            services.NewComment(card=second, body="  one *by* one ", at=T0),
            services.NewComment(card=first, body="later", at=T0 + timedelta(days=1)),
        ],
        actor=world.bob,
    )

    assert [(c.card_id, c.body, c.created_at) for c in comments] == [
        (second.pk, "one *by* one", T0),
        (first.pk, "later", T0 + timedelta(days=1)),
    ]
    batched = list(Event.objects.filter(type="card.commented").order_by("seq"))[1:]
    assert [e.data["card"] for e in batched] == [second.pk, first.pk]
    as_single = {**single.data["comment"], "id": None, "card": None}
    assert {**batched[0].data["comment"], "id": None, "card": None} == as_single
    assert batched[0].seq == single.seq + 1 and batched[1].seq == single.seq + 2
    assert Comment.objects.get(pk=comments[0].pk).body_html == "<p>one <em>by</em> one</p>"


def test_add_comments_checks_the_text_the_cards_and_access(world):
    card = services.create_card(
        world.board, title="c", column=world.column("Ready"), actor=world.alice
    )
    theirs = services.create_card(
        world.globex_board,
        title="g",
        column=world.globex_board.columns.first(),
        actor=world.gina,
    )

    def add(board, *comments, actor=world.alice):
        return services.add_comments(board, comments=list(comments), actor=actor)

    with pytest.raises(InvalidInput):
        add(world.board, services.NewComment(card=card, body="  "))
    with pytest.raises(InvalidInput):
        add(world.board, services.NewComment(card=theirs, body="hello"))
    with pytest.raises(Forbidden):
        add(world.board, services.NewComment(card=card, body="hello"), actor=world.victor)
    gone = Card(pk=card.pk + 1000, board=world.board)
    with pytest.raises(NotFound):
        add(world.board, services.NewComment(card=gone, body="hello"))
    assert not Comment.objects.exists()
