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
    # into Done, where the finish looks for waiters in the read sent with the locks
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
    # the only statement that asks about waits is the card's relations, read under its lock
    asking = [q["sql"] for q in captured.captured_queries if "boards_cardwait" in q["sql"]]
    assert len(asking) == 1 and "on_card_id" in asking[0] and "FOR NO KEY" not in asking[0]
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


# --- metrics ----------------------------------------------------------------------------------


def test_dependency_waits_per_team_pair_and_their_share_of_lead_time(world, api, product_board):
    """Hand-worked: one Sales card waited on Ops for 6 days (p50 = p85 = 6), another waits on
    Ops still. The finished card was committed 10 days before its finish and waited on two
    Product cards, days 2-4 and 3-5: overlapping by a day, so 3 days lost, not 4: 30 % of its
    lead time."""
    from boards.flow.waits import dependency_waits

    t0 = timezone.now() - timedelta(days=20)
    day = timedelta(days=1)
    ops_team = world.acme.teams.create(name="Ops", slug="ops")
    ops = services.create_board(team=ops_team, name="Ops board", actor=world.alice)
    upstream = [card_on(world, product_board, f"P{i}") for i in range(3)]
    ops_card = card_on(world, ops, "O")
    quotes = [card_on(world, world.board, f"Q{i}") for i in range(3)]
    for quote, up, days in zip(quotes, upstream, (1, 2, 4), strict=True):
        wait = services.add_wait(quote, on=up, actor=world.bob, at=t0)
        services.end_wait(wait, actor=world.bob, at=t0 + days * day)
    wait = services.add_wait(quotes[0], on=ops_card, actor=world.bob, at=t0 + 2 * day)
    services.end_wait(wait, actor=world.bob, at=t0 + 8 * day)
    open_wait = card_on(world, world.board, "still waiting")
    services.add_wait(open_wait, on=ops_card, actor=world.bob, at=t0)

    # the finished card: committed at t0, finished at t0 + 10 days, waited days 2-4 and 3-5
    done_card = services.create_card(
        world.board, title="F", column=world.column("Ready"), actor=world.bob, at=t0
    )
    a, b = card_on(world, product_board, "A"), card_on(world, product_board, "B")
    w1 = services.add_wait(done_card, on=a, actor=world.bob, at=t0 + 2 * day)
    w2 = services.add_wait(done_card, on=b, actor=world.bob, at=t0 + 3 * day)
    services.end_wait(w1, actor=world.bob, at=t0 + 4 * day)
    services.end_wait(w2, actor=world.bob, at=t0 + 5 * day)
    services.move_card(done_card, to_column=world.column("Done"), actor=world.bob, at=t0 + 10 * day)

    figures = dependency_waits(world.board)

    by_pair = {(p["team_name"], p["on_team_name"]): p for p in figures["pairs"]}
    product = by_pair[("Sales", "Product")]
    assert product["count"] == 5  # the three quotes' and the finished card's two
    ops_pair = by_pair[("Sales", "Ops")]
    assert (ops_pair["count"], ops_pair["p50"], ops_pair["p85"], ops_pair["open"]) == (
        1,
        6.0,
        6.0,
        1,
    )
    share = figures["lead_share"]
    assert share["cards"] == 1
    assert share["lead_days"] == pytest.approx(10.0)
    assert share["wait_days"] == pytest.approx(3.0)
    assert share["value"] == pytest.approx(0.3)
    # the API serves the same figures with the board's metrics
    body = api(world.victor).get(f"/api/v1/boards/{world.board.pk}/metrics/").json()
    assert body["dependency_waits"]["lead_share"]["value"] == pytest.approx(0.3)


def test_dependency_wait_percentiles_of_one_pair(world, product_board):
    """Waits of 1, 2 and 4 days, interpolated linearly (percentile_cont): p50 is the middle
    one, 2; p85 sits at rank 0.85 * (3 - 1) = 1.7, so 2 + 0.7 * (4 - 2) = 3.4 days."""
    from boards.flow.waits import dependency_waits

    t0 = timezone.now() - timedelta(days=20)
    for i, days in enumerate((1, 2, 4)):
        wait = services.add_wait(
            card_on(world, world.board, f"Q{i}"),
            on=card_on(world, product_board, f"P{i}"),
            actor=world.bob,
            at=t0,
        )
        services.end_wait(wait, actor=world.bob, at=t0 + timedelta(days=days))

    (pair,) = dependency_waits(world.board)["pairs"]

    assert (pair["team_name"], pair["on_team_name"]) == ("Sales", "Product")
    assert (pair["count"], pair["p50"], pair["p85"], pair["open"]) == (3, 2.0, 3.4, 0)
    # the same pair, seen from the board waited on
    assert dependency_waits(product_board)["pairs"] == [pair]


# --- the pages: stand-up, overview, metrics ---------------------------------------------------


def test_cards_others_wait_on_come_first_in_the_standup_of_their_board(
    world, client, product_board
):
    upstream = card_on(world, product_board, "Pricing API", column="Doing")
    lonely = card_on(world, product_board, "Nobody waits", column="Doing")
    services.add_wait(card_on(world, world.board, "Quote A"), on=upstream, actor=world.bob)
    ops_team = world.acme.teams.create(name="Ops", slug="ops")
    ops = services.create_board(team=ops_team, name="Ops board", actor=world.alice)
    services.add_wait(card_on(world, ops, "Deploy"), on=upstream, actor=world.alice)
    client.force_login(world.mia)

    page = client.get(f"/boards/{product_board.pk}/standup/").content.decode()

    first = page.index('id="waited-on"')
    assert first < page.index('id="walk"') and first < page.index('id="blocked"')
    section = page[first : page.index("</section>", first)]
    assert f'data-card-id="{upstream.pk}"' in section
    assert "2 cards on 2 teams" in section
    assert f'data-card-id="{lonely.pk}"' not in section


def test_the_overview_shows_open_waits_team_to_team_with_the_oldest(
    world, api, client, product_board
):
    t0 = timezone.now() - timedelta(days=4)
    upstream = card_on(world, product_board, "Pricing API")
    for i, at in enumerate((t0, t0 + timedelta(days=3))):
        services.add_wait(card_on(world, world.board, f"Q{i}"), on=upstream, actor=world.bob, at=at)
    ended = services.add_wait(
        card_on(world, world.board, "Q old"), on=upstream, actor=world.bob, at=t0
    )
    services.end_wait(ended, actor=world.bob)

    body = api(world.victor).get("/api/v1/orgs/acme/overview/").json()

    (pair,) = body["team_waits"]
    assert (pair["team_name"], pair["on_team_name"], pair["open"]) == ("Sales", "Product", 2)
    assert pair["oldest_days"] == pytest.approx(4.0, abs=0.01)
    client.force_login(world.victor)
    page = client.get("/o/acme/").content.decode()
    section = page[page.index('class="team-waits"') :]
    assert 'Sales</th><td>Product</td><td class="num">2</td>' in section
    assert "4.0" in section


def test_the_metrics_page_shows_the_share_of_lead_time_lost_to_waits(world, client, product_board):
    t0 = timezone.now() - timedelta(days=12)
    card = services.create_card(
        world.board, title="F", column=world.column("Ready"), actor=world.bob, at=t0
    )
    wait = services.add_wait(card, on=card_on(world, product_board, "A"), actor=world.bob, at=t0)
    services.end_wait(wait, actor=world.bob, at=t0 + timedelta(days=2))
    services.move_card(
        card, to_column=world.column("Done"), actor=world.bob, at=t0 + timedelta(days=8)
    )
    client.force_login(world.victor)

    page = client.get(f"/boards/{world.board.pk}/metrics/").content.decode()

    # 2 days of an 8-day lead time
    assert '<strong id="dependency-share">25 %</strong>' in page
    assert "<td>Sales</td><td>Product</td><td>1</td><td>2.0</td><td>2.0</td><td>0</td>" in page


def test_the_boards_writers_switch_the_rule_on_through_the_api(world, api):
    response = api(world.bob).patch(
        f"/api/v1/boards/{world.board.pk}/", {"no_done_while_waiting": True}, format="json"
    )

    assert response.status_code == 200, response.json()
    assert response.json()["no_done_while_waiting"] is True
    world.board.refresh_from_db()
    assert world.board.no_done_while_waiting is True
    event = events_of(world.board, "board.updated")[-1]
    assert event.data["changed"] == ["no_done_while_waiting"]
    refused = api(world.victor).patch(
        f"/api/v1/boards/{world.board.pk}/", {"no_done_while_waiting": False}, format="json"
    )
    assert refused.status_code == 403


def test_the_board_draws_what_a_card_waits_on_and_who_waits_on_it(world, client, product_board):
    upstream = card_on(world, product_board, "Pricing API")
    waiting = card_on(world, world.board, "Quote")
    services.add_wait(waiting, on=upstream, actor=world.bob)
    ops_team = world.acme.teams.create(name="Ops", slug="ops")
    ops = services.create_board(team=ops_team, name="Ops board", actor=world.alice)
    services.add_wait(card_on(world, ops, "Deploy"), on=upstream, actor=world.alice)
    client.force_login(world.victor)

    here = client.get(f"/boards/{world.board.pk}/").content.decode()
    there = client.get(f"/boards/{product_board.pk}/").content.decode()
    fragment = client.get(f"/boards/{product_board.pk}/cards/{upstream.pk}/fragment/")
    fragment = fragment.content.decode()

    link = f'href="/boards/{product_board.pk}/#card-{upstream.pk}"'
    assert link in here and f">#{upstream.pk}</a> (Product)" in here
    assert "Waited on by <strong>2 cards on 2 teams</strong>" in there
    assert "Waited on by <strong>2 cards on 2 teams</strong>" in fragment


def test_a_waiting_card_is_not_unblocked_by_hand_while_it_waits(world, api, product_board):
    card = card_on(world, world.board, "Quote")
    services.add_wait(card, on=card_on(world, product_board, "A"), actor=world.bob)

    response = api(world.bob).post(f"/api/v1/cards/{card.pk}/unblock/")

    assert response.status_code == 409
    assert "stop waiting" in response.json()["detail"]
    card.refresh_from_db()
    assert card.blocked is True
    assert Block.objects.get(card=card).ended_at is None


def test_the_activity_feeds_say_who_waits_on_what(
    world, client, product_board, django_capture_on_commit_callbacks
):
    upstream = card_on(world, product_board, "Pricing API", column="Doing")
    waiting = card_on(world, world.board, "Quote")
    services.add_wait(waiting, on=upstream, actor=world.bob)
    finish(world, upstream, world.mia, django_capture_on_commit_callbacks)
    client.force_login(world.victor)

    here = client.get(f"/boards/{world.board.pk}/activity/").content.decode()
    there = client.get(f"/boards/{product_board.pk}/activity/").content.decode()

    assert "made “Quote” wait on a card of another board" in here
    assert "“Quote” stopped waiting (as it was finished)" in here
    assert "made a card of another board wait on “Pricing API”" in there
    assert "stopped waiting on “Pricing API” (as it was finished)" in there


# --- live -------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_both_boards_viewers_hear_a_wait_added_and_ended_live(world):
    import asyncio
    import json

    import websockets

    from accounts.services import create_api_token
    from tests.servers import asgi_server
    from tests.test_live_updates import api as call

    product = services.create_board(team=world.product, name="Roadmap", actor=world.alice)
    upstream = card_on(world, product, "Pricing API", column="Doing")
    waiting = card_on(world, world.board, "Quote")
    done = product.columns.get(name="Done").pk
    _, token = create_api_token(user=world.alice)
    with asgi_server() as server:
        ws_base = server.replace("http://", "ws://")

        async def listen(board_id: int, until: str, ready: asyncio.Event) -> list[dict]:
            seen: list[dict] = []
            async with websockets.connect(
                f"{ws_base}/ws/boards/{board_id}/",
                additional_headers={"Authorization": f"Token {token}"},
            ) as ws:
                await ws.recv()  # hello
                ready.set()
                while not any(m.get("type") == until for m in seen):
                    seen.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
            return seen

        async def scenario():
            ready = [asyncio.Event(), asyncio.Event()]
            here = asyncio.create_task(listen(world.board.pk, "card.unblocked", ready[0]))
            there = asyncio.create_task(listen(product.pk, "card.wait_ended", ready[1]))
            await asyncio.gather(*(r.wait() for r in ready))
            path = f"/api/v1/cards/{waiting.pk}/waits/"
            await asyncio.to_thread(call, server, "POST", path, token, {"on": upstream.pk})
            move = f"/api/v1/cards/{upstream.pk}/move/"
            await asyncio.to_thread(call, server, "POST", move, token, {"column": done})
            return await here, await there

        here, there = asyncio.run(scenario())

    here = [m for m in here if m.get("type", "").startswith("card.")]
    there = [m for m in there if m.get("type", "").startswith("card.")]
    types_here = [m["type"] for m in here]
    assert types_here[:2] == ["card.blocked", "card.wait_added"]
    assert "card.unblocked" in types_here
    added_there = next(m for m in there if m["type"] == "card.wait_added")
    assert added_there["data"]["card"] == upstream.pk
    assert added_there["data"]["wait"]["card"] is None  # the other board's card is not named
    ended_there = next(m for m in there if m["type"] == "card.wait_ended")
    assert ended_there["data"]["wait"]["ended_reason"] == "finished"
    seqs = [m["seq"] for m in here]
    assert seqs == sorted(seqs)
