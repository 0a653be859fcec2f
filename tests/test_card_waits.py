"""Waiting on other teams: a card waits on a card of any board of its organisation, is blocked
while it does, and is unblocked when that card is finished (boards/services/waits.py)."""

import itertools
from datetime import timedelta

import pytest
from django.utils import timezone

from boards import services
from boards.models import Block, Card, CardMove, CardWait, Event
from boards.selectors.waits import card_waits
from boards.tasks import sweep_waits
from tests.test_query_counts import MOVE_MAX_QUERIES, client_for


@pytest.fixture
def product_board(world):
    return services.create_board(team=world.product, name="Product roadmap", actor=world.alice)


def card_on(world, board, title, column="Ready"):
    return services.create_card(
        board, title=title, column=world.column(column, board), actor=world.alice
    )


def events_of(board, type_):
    return list(Event.objects.filter(board=board, type=type_).order_by("seq"))


def finish(world, card, actor, captured):
    done = card.board.columns.get(name="Done")
    with captured(execute=True):
        services.move_card(card, to_column=done, actor=actor)


# --- adding and removing ----------------------------------------------------------------------


def test_a_card_waits_on_a_card_of_another_team_and_is_blocked_by_it(world, api, product_board):
    # given a Sales card and a Product card
    sales_card = card_on(world, world.board, "Quote for Initech")
    product_card = card_on(world, product_board, "Pricing API")

    # when bob (Sales) makes his card wait on Product's
    response = api(world.bob).post(
        f"/api/v1/cards/{sales_card.pk}/waits/", {"on": product_card.pk}, format="json"
    )

    # then it is blocked, saying on whom it waits, through the andon cord's own block
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["open"] is True
    assert body["on_card"]["id"] == product_card.pk
    assert body["on_card"]["ref"] == f"#{product_card.pk}"
    assert body["on_card"]["team"] == "Product"
    assert body["on_card"]["url"] == f"/boards/{product_board.pk}/#card-{product_card.pk}"
    card = api(world.bob).get(f"/api/v1/cards/{sales_card.pk}/").json()
    assert card["blocked"] is True
    assert card["block_reason"] == "Waiting on a card of Product"
    block = Block.objects.get(card=sales_card)
    assert block.ended_at is None
    assert CardWait.objects.get().block == block
    # both boards hear of it; the blocked card's board also hears it blocked
    added_here = events_of(world.board, "card.wait_added")
    added_there = events_of(product_board, "card.wait_added")
    assert [e.data["card"] for e in added_here] == [sales_card.pk]
    assert [e.data["card"] for e in added_there] == [product_card.pk]
    # each board's log names only its own card (the other board's readers may differ)
    assert added_here[0].data["wait"]["on_card"] is None
    assert added_there[0].data["wait"]["card"] is None
    assert events_of(world.board, "card.blocked")[0].data["card"]["blocked"] is True


def test_the_card_lists_what_it_waits_on_and_who_waits_on_it(
    world, api, product_board, django_assert_max_num_queries
):
    upstream = card_on(world, product_board, "Pricing API")
    first = card_on(world, world.board, "Quote A")
    second = card_on(world, world.board, "Quote B")
    ops = services.create_board(team=world.product, name="Ops", actor=world.alice)
    third = card_on(world, ops, "Deploy")
    for card in (first, second, third):
        services.add_wait(card, on=upstream, actor=world.alice)
    client = client_for(api, world.victor)

    with django_assert_max_num_queries(6):
        body = client.get(f"/api/v1/cards/{upstream.pk}/waits/").json()

    assert body["waits"] == []
    assert sorted(w["card"]["id"] for w in body["waited_on_by"]) == sorted(
        [first.pk, second.pk, third.pk]
    )
    # three cards, on two teams (two of them Sales', one on a Product board)
    assert body["waited_on_summary"] == "3 cards on 2 teams"
    mine = client.get(f"/api/v1/cards/{first.pk}/waits/").json()
    assert [w["on_card"]["title"] for w in mine["waits"]] == ["Pricing API"]
    assert mine["waited_on_summary"] == ""


def test_removing_the_wait_unblocks_the_card_and_keeps_the_interval(world, api, product_board):
    sales_card = card_on(world, world.board, "Quote")
    upstream = card_on(world, product_board, "Pricing API")
    wait = services.add_wait(sales_card, on=upstream, actor=world.bob)

    response = api(world.bob).delete(f"/api/v1/cards/{sales_card.pk}/waits/{wait.pk}/")

    assert response.status_code == 204
    wait.refresh_from_db()
    assert wait.ended_reason == "removed"
    assert wait.ended_by == world.bob
    assert wait.ended_at is not None
    sales_card.refresh_from_db()
    assert sales_card.blocked is False and sales_card.block_reason == ""
    assert Block.objects.get(card=sales_card).ended_at == wait.ended_at
    assert len(events_of(product_board, "card.wait_ended")) == 1
    assert len(events_of(world.board, "card.wait_ended")) == 1
    assert len(events_of(world.board, "card.unblocked")) == 1


def test_a_card_waiting_on_two_stays_blocked_until_the_last_wait_ends(world, product_board):
    card = card_on(world, world.board, "Quote")
    a = card_on(world, product_board, "A")
    b = card_on(world, product_board, "B")
    first = services.add_wait(card, on=a, actor=world.bob)
    second = services.add_wait(card, on=b, actor=world.bob)
    assert Block.objects.filter(card=card).count() == 1  # one andon cord, two reasons to wait

    services.end_wait(first, actor=world.bob)
    card.refresh_from_db()
    assert card.blocked is True

    services.end_wait(second, actor=world.bob)
    card.refresh_from_db()
    assert card.blocked is False


def test_a_card_blocked_by_hand_stays_blocked_when_its_wait_ends(world, product_board):
    card = card_on(world, world.board, "Quote")
    upstream = card_on(world, product_board, "A")
    services.block_card(card, reason="Customer on holiday", actor=world.bob)
    wait = services.add_wait(card, on=upstream, actor=world.bob)
    assert wait.block is None

    services.end_wait(wait, actor=world.bob)

    card.refresh_from_db()
    assert card.blocked is True
    assert card.block_reason == "Customer on holiday"


# --- refused ----------------------------------------------------------------------------------


def test_a_card_cannot_wait_on_itself(world, api):
    card = card_on(world, world.board, "Quote")

    response = api(world.bob).post(f"/api/v1/cards/{card.pk}/waits/", {"on": card.pk})

    assert response.status_code == 400
    assert response.json()["fields"]["on"]
    assert not CardWait.objects.exists()
    card.refresh_from_db()
    assert card.blocked is False


def test_the_database_refuses_a_self_wait_and_a_second_open_wait_on_the_same_card(
    world, product_board
):
    from django.db import IntegrityError, transaction

    card = card_on(world, world.board, "Quote")
    upstream = card_on(world, product_board, "A")
    now = timezone.now()
    common = {"organization": world.acme, "board": world.board, "started_at": now}
    with pytest.raises(IntegrityError), transaction.atomic():
        CardWait.objects.create(card=card, on_card=card, on_board=world.board, **common)
    CardWait.objects.create(card=card, on_card=upstream, on_board=product_board, **common)
    with pytest.raises(IntegrityError), transaction.atomic():
        CardWait.objects.create(card=card, on_card=upstream, on_board=product_board, **common)


def test_waiting_twice_on_the_same_card_is_a_conflict(world, api, product_board):
    card = card_on(world, world.board, "Quote")
    upstream = card_on(world, product_board, "A")
    services.add_wait(card, on=upstream, actor=world.bob)

    response = api(world.bob).post(f"/api/v1/cards/{card.pk}/waits/", {"on": upstream.pk})

    assert response.status_code == 409
    assert CardWait.objects.count() == 1


@pytest.mark.parametrize("chain", [2, 3, 5])
def test_a_cycle_of_waits_is_refused_with_a_clear_400(world, api, product_board, chain):
    # given c0 waits on c1, c1 on c2, ... (alternating boards)
    boards = [world.board, product_board]
    cards = [card_on(world, boards[i % 2], f"c{i}") for i in range(chain)]
    for here, there in itertools.pairwise(cards):
        services.add_wait(here, on=there, actor=world.alice)
    before = CardWait.objects.count()

    # when the last would wait on the first
    response = api(world.alice).post(f"/api/v1/cards/{cards[-1].pk}/waits/", {"on": cards[0].pk})

    assert response.status_code == 400
    assert response.json()["code"] == "wait_cycle"
    assert "cycle" in response.json()["detail"]
    assert CardWait.objects.count() == before
    cards[-1].refresh_from_db()
    assert cards[-1].blocked is False


def test_waiting_on_a_finished_card_is_refused(world, api, product_board):
    card = card_on(world, world.board, "Quote")
    done = card_on(world, product_board, "Shipped", column="Done")

    response = api(world.bob).post(f"/api/v1/cards/{card.pk}/waits/", {"on": done.pk})

    assert response.status_code == 400
    assert response.json()["fields"]["on"] == ["The card is finished."]
    assert not CardWait.objects.exists()


@pytest.mark.parametrize("payload", [{}, {"on": "x"}, {"on": 0}, {"on": None}])
def test_a_wait_needs_a_card_id(world, api, payload):
    card = card_on(world, world.board, "Quote")

    response = api(world.bob).post(f"/api/v1/cards/{card.pk}/waits/", payload, format="json")

    assert response.status_code == 400
    assert "on" in response.json()["fields"]
    assert not CardWait.objects.exists()


# --- access -----------------------------------------------------------------------------------


def test_a_card_of_another_organisation_reads_as_not_found(world, api):
    card = card_on(world, world.board, "Quote")
    foreign = services.create_card(
        world.globex_board,
        title="Globex secret",
        column=world.column("Ready", world.globex_board),
        actor=world.gina,
    )

    response = api(world.bob).post(f"/api/v1/cards/{card.pk}/waits/", {"on": foreign.pk})
    assert response.status_code == 404
    assert "Globex" not in response.content.decode()
    # and the other way: gina cannot touch or read Acme's waits
    assert api(world.gina).get(f"/api/v1/cards/{card.pk}/waits/").status_code == 404
    response = api(world.gina).post(f"/api/v1/cards/{foreign.pk}/waits/", {"on": card.pk})
    assert response.status_code == 404
    assert not CardWait.objects.exists()


def test_only_the_waiting_cards_writers_add_or_remove_its_waits(world, api, product_board):
    card = card_on(world, world.board, "Quote")
    upstream = card_on(world, product_board, "A")
    # victor is a viewer, mia is on Product (not the waiting card's team)
    for user in (world.victor, world.mia):
        response = api(user).post(f"/api/v1/cards/{card.pk}/waits/", {"on": upstream.pk})
        assert response.status_code == 403
    wait = services.add_wait(card, on=upstream, actor=world.bob)
    for user in (world.victor, world.mia):
        response = api(user).delete(f"/api/v1/cards/{card.pk}/waits/{wait.pk}/")
        assert response.status_code == 403
    # a wait id under another card is not found
    other = card_on(world, world.board, "Other")
    assert api(world.bob).delete(f"/api/v1/cards/{other.pk}/waits/{wait.pk}/").status_code == 404
    wait.refresh_from_db()
    assert wait.ended_at is None


def test_a_reader_who_may_not_read_the_other_board_sees_only_its_team(world, product_board):
    card = card_on(world, world.board, "Quote")
    upstream = card_on(world, product_board, "Secret pricing")
    services.add_wait(card, on=upstream, actor=world.bob)
    # gina belongs to another organisation: she may read neither board
    shown = card_waits(upstream, world.gina)["waited_on_by"][0]

    assert shown["card"] == {
        "visible": False,
        "team": "Sales",
        "id": None,
        "ref": None,
        "title": None,
        "board": None,
        "board_name": None,
        "url": None,
        "finished": None,
    }
    assert "Quote" not in str(shown)


# --- finishing the card waited on -------------------------------------------------------------


def test_finishing_the_card_waited_on_unblocks_the_waiting_cards(
    world, product_board, django_capture_on_commit_callbacks
):
    upstream = card_on(world, product_board, "Pricing API", column="Doing")
    waiting = [card_on(world, world.board, f"Quote {i}") for i in range(2)]
    t0 = timezone.now() - timedelta(days=3)
    for card in waiting:
        services.add_wait(card, on=upstream, actor=world.bob, at=t0)

    finish(world, upstream, world.mia, django_capture_on_commit_callbacks)

    upstream.refresh_from_db()
    for card in waiting:
        card.refresh_from_db()
        assert card.blocked is False
        wait = CardWait.objects.get(card=card)
        # the dependency wait ends at the finish, not when a worker came round to it
        assert wait.ended_at == upstream.finished_at
        assert wait.ended_reason == "finished"
        assert wait.ended_by == world.mia
        assert Block.objects.get(card=card).ended_at == upstream.finished_at
    assert len(events_of(world.board, "card.unblocked")) == 2
    assert len(events_of(product_board, "card.wait_ended")) == 2


def test_a_move_that_does_not_finish_the_card_waited_on_leaves_the_wait_open(
    world, product_board, django_capture_on_commit_callbacks
):
    upstream = card_on(world, product_board, "Pricing API")
    card = card_on(world, world.board, "Quote")
    services.add_wait(card, on=upstream, actor=world.bob)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.move_card(
            upstream, to_column=product_board.columns.get(name="Doing"), actor=world.mia
        )

    assert CardWait.objects.get().ended_at is None
    card.refresh_from_db()
    assert card.blocked is True
    names = [getattr(c, "__qualname__", "") for c in callbacks]
    assert not any("after_finish_waited_on" in n for n in names)


def test_the_move_of_a_card_nobody_waits_on_costs_no_more_statements(
    world, api, product_board, django_assert_max_num_queries
):
    # into Done, where the finish looks for waiters in the card's own UPDATE
    upstream = card_on(world, product_board, "Pricing API", column="Doing")
    other = card_on(world, product_board, "Nobody waits", column="Doing")
    card = card_on(world, world.board, "Quote")
    services.add_wait(card, on=upstream, actor=world.bob)
    done = product_board.columns.get(name="Done")
    client = client_for(api, world.mia)

    # a move into done reads the card's history once more than others (its flow efficiency)
    with django_assert_max_num_queries(MOVE_MAX_QUERIES + 1) as captured:
        response = client.post(f"/api/v1/cards/{other.pk}/move/", {"column": done.pk})

    assert response.status_code == 200
    # the only statement that asks about waits is the card's own UPDATE
    asking = [q["sql"] for q in captured.captured_queries if "boards_cardwait" in q["sql"]]
    assert len(asking) == 1 and asking[0].lstrip().startswith("WITH")
    assert CardWait.objects.get().ended_at is None


def test_a_lost_end_waits_task_is_made_up_by_the_sweep(world, product_board):
    upstream = card_on(world, product_board, "Pricing API", column="Doing")
    card = card_on(world, world.board, "Quote")
    services.add_wait(card, on=upstream, actor=world.bob)
    # the move's after-commit callback never runs (no capture): as if the broker were down
    services.move_card(upstream, to_column=product_board.columns.get(name="Done"), actor=world.mia)
    assert CardWait.objects.get().ended_at is None

    assert sweep_waits() == 1

    assert CardWait.objects.get().ended_reason == "finished"
    card.refresh_from_db()
    assert card.blocked is False
    assert sweep_waits() == 0


def test_a_card_reopened_before_its_waits_ended_keeps_them_open(world, product_board):
    upstream = card_on(world, product_board, "Pricing API", column="Doing")
    card = card_on(world, world.board, "Quote")
    services.add_wait(card, on=upstream, actor=world.bob)
    services.move_card(upstream, to_column=product_board.columns.get(name="Done"), actor=world.mia)
    services.move_card(upstream, to_column=product_board.columns.get(name="Doing"), actor=world.mia)

    assert services.end_waits_on_finished(upstream.pk, actor=None) == []

    assert CardWait.objects.get().ended_at is None


# --- the board's rule: no done while a wait is open -------------------------------------------


@pytest.fixture
def strict_board(world):
    world.board.no_done_while_waiting = True
    world.board.save(update_fields=["no_done_while_waiting"])
    return world.board


def test_a_waiting_card_may_not_enter_done_where_the_board_says_so(
    world, api, product_board, strict_board
):
    card = card_on(world, strict_board, "Quote", column="Doing")
    services.add_wait(card, on=card_on(world, product_board, "A"), actor=world.bob)
    done = strict_board.columns.get(name="Done")

    response = api(world.bob).post(f"/api/v1/cards/{card.pk}/move/", {"column": done.pk})

    assert response.status_code == 409
    assert response.json()["code"] == "still_waiting"
    card.refresh_from_db()
    assert card.column.name == "Doing"
    # elsewhere than done it moves as ever
    review = strict_board.columns.get(name="Review")
    response = api(world.bob).post(f"/api/v1/cards/{card.pk}/move/", {"column": review.pk})
    assert response.status_code == 200


def test_an_admin_may_finish_a_waiting_card_with_a_reason_kept_in_the_history(
    world, api, product_board, strict_board
):
    card = card_on(world, strict_board, "Quote", column="Doing")
    services.add_wait(card, on=card_on(world, product_board, "A"), actor=world.bob)
    done = strict_board.columns.get(name="Done")
    reason = "Customer accepted the workaround"

    refused = api(world.bob).post(
        f"/api/v1/cards/{card.pk}/move/", {"column": done.pk, "override_reason": reason}
    )
    response = api(world.adam).post(
        f"/api/v1/cards/{card.pk}/move/", {"column": done.pk, "override_reason": reason}
    )

    assert refused.status_code == 403
    assert response.status_code == 200, response.json()
    move = CardMove.objects.filter(card=card).latest("at")
    assert move.override_reason == reason
    event = events_of(strict_board, "card.moved")[-1]
    assert event.data["override_reason"] == reason


def test_without_the_rule_a_waiting_card_may_be_finished(world, api, product_board):
    card = card_on(world, world.board, "Quote", column="Doing")
    services.add_wait(card, on=card_on(world, product_board, "A"), actor=world.bob)
    done = world.board.columns.get(name="Done")

    response = api(world.bob).post(f"/api/v1/cards/{card.pk}/move/", {"column": done.pk})

    assert response.status_code == 200
    assert Card.objects.get(pk=card.pk).column == done
