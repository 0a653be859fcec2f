"""The board page and its card fragment, server side: a query count that does not grow with the
cards, the one card template, organisation scoping, read-only markup and the URL's filters."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from boards import selectors, services
from boards.flow import metrics
from boards.models import Card, ClassOfService, Stage, WipPolicy
from tests.factories import bulk_add_cards, position_of

# Session and user (2), the board with the reader's access (1), the snapshot (7), the typical
# cycle time (1), the open waits of and on its cards (1), the open alerts drawn with the page
# (1), the service levels in force (1): a bound that holds for any number of cards.
BOARD_PAGE_MAX_QUERIES = 14


def page_url(board) -> str:
    return f"/boards/{board.pk}/"


def fragment_url(board, card) -> str:
    return f"/boards/{board.pk}/cards/{card.pk}/fragment/"


def card_ids(html: str, *, shown_only: bool = False) -> list[int]:
    ids = []
    for match in re.finditer(r'<li class="card[^>]*>', html):
        tag = match.group(0)
        if shown_only and " hidden" in tag:
            continue
        found = re.search(r'data-card-id="(\d+)"', tag)
        assert found is not None
        ids.append(int(found.group(1)))
    return ids


def add_cards(board, n: int, *, people=(), labels=()) -> None:
    """Add `n` live cards to `board`, spread over its cells, as rows in bulk.

    A thousand cards through services.create_card take ~20 s; this page only reads, so the rows
    are written in bulk in the shape the services leave them: ranked after the cells' existing
    cards and counted, flow timestamps that match the column's stage, some blocked,
    assignees and labels. The interaction tests (tests/browser/) use the services throughout.
    """
    columns = list(board.columns.order_by("position"))
    lanes = list(board.swimlanes.order_by("position"))
    now = timezone.now()
    cards = []
    for i in range(n):
        column = columns[i % len(columns)]
        lane = lanes[(i // len(columns)) % len(lanes)]
        created = now - timedelta(days=1 + i % 40)
        committed = created + timedelta(hours=6) if column.stage != Stage.BACKLOG else None
        started = (
            created + timedelta(days=1) if column.stage in (Stage.ACTIVE, Stage.DONE) else None
        )
        blocked = column.stage in (Stage.ACTIVE, Stage.WAIT) and i % 13 == 0
        cards.append(
            # finished_at: Done cards have started (just above).
            Card(  # type: ignore[misc]
                board=board,
                column=column,
                swimlane=lane,
                title=f"Card {i}: onboard customer {i % 97}",
                description="Some *markdown*.",
                description_html="<p>Some <em>markdown</em>.</p>",
                value=i % 101,
                customer=f"Customer {i % 97}",
                class_of_service=(ClassOfService.EXPEDITE if i % 29 == 0 else
                                  ClassOfService.STANDARD),
                due_date=(now + timedelta(days=i % 20)).date() if i % 7 == 0 else None,
                blocked=blocked,
                block_reason="Waiting for the customer" if blocked else "",
                created_at=created,
                updated_at=now,
                committed_at=committed,
                started_at=started,
                finished_at=started + timedelta(days=1 + i % 9)  # type: ignore[operator]
                if column.stage == Stage.DONE
                else None,
            )
        )  # fmt: skip
    cards = bulk_add_cards(cards)
    Card.assignees.through.objects.bulk_create(
        Card.assignees.through(card_id=card.pk, user_id=people[i % len(people)].pk)
        for i, card in enumerate(cards)
        if people and i % 3
    )
    Card.labels.through.objects.bulk_create(
        Card.labels.through(card_id=card.pk, label_id=labels[i % len(labels)].pk)
        for i, card in enumerate(cards)
        if labels and i % 2
    )


@pytest.fixture
def busy_board(world):
    """A Sales board like a real one: an expedite lane, limits, labels, and a few cards made
    through the services (one moved to Done, one blocked)."""
    board = services.create_board(
        team=world.sales,
        name="Busy",
        columns=[
            {"name": "Backlog", "stage": Stage.BACKLOG},
            {"name": "Ready", "stage": Stage.WAIT, "wip_limit": 5000},
            {"name": "Doing", "stage": Stage.ACTIVE, "wip_limit": 5000,
             "wip_policy": WipPolicy.HARD, "policy": "Exit: tested."},
            {"name": "Done", "stage": Stage.DONE},
        ],
        swimlanes=("Standard", "Expedite"),
        actor=world.alice,
    )  # fmt: skip
    columns = {c.name: c for c in board.columns.all()}
    label = services.create_label(board, name="enterprise", color="#2563eb", actor=world.alice)
    first = services.create_card(
        board, title="First", column=columns["Doing"], labels=[label], assignees=[world.bob],
        actor=world.alice,
    )  # fmt: skip
    services.move_card(first, to_column=columns["Done"], actor=world.bob)
    second = services.create_card(board, title="Second", column=columns["Ready"], actor=world.bob)
    services.block_card(second, reason="Waiting for legal", actor=world.bob)
    return board


def test_board_page_queries_do_not_grow_with_the_number_of_cards(
    world, client, django_assert_max_num_queries
):
    # given: a board of 10 cards and one of 1,000
    small = services.create_board(team=world.sales, name="Small", actor=world.alice)
    big = services.create_board(team=world.sales, name="Big", actor=world.alice)
    labels = [
        services.create_label(board, name=n, actor=world.alice)
        for board in (small, big)
        for n in ("a", "b")
    ]
    add_cards(small, 10, people=[world.bob, world.mia], labels=labels[:2])
    add_cards(big, 1000, people=[world.bob, world.mia], labels=labels[2:])
    client.force_login(world.alice)

    # when: each page is rendered
    with CaptureQueriesContext(connection) as queries:
        response = client.get(page_url(small))
    assert response.status_code == 200
    with django_assert_max_num_queries(len(queries)):
        response = client.get(page_url(big))

    # then: the big one took no more queries, and shows every card
    assert response.status_code == 200
    assert len(card_ids(response.content.decode())) == 1000
    assert len(queries) <= BOARD_PAGE_MAX_QUERIES, [q["sql"][:90] for q in queries]


def test_board_page_shows_columns_wip_policy_and_cards_where_they_are(world, client, busy_board):
    client.force_login(world.bob)
    html = client.get(page_url(busy_board)).content.decode()

    snapshot = selectors.board_snapshot(busy_board)
    for column in snapshot["columns"]:
        assert f'data-column-id="{column["id"]}"' in html
    assert '<span class="wip-n">1</span> / 5000' in html  # Ready: the blocked card
    assert "Exit: tested." in html  # Doing's policy, one click away
    assert 'class="lane lane-expedite"' in html
    # the expedite lane is drawn on top, though it is second in position
    expedite = next(s for s in snapshot["swimlanes"] if s["name"] == "Expedite")
    assert html.index(f'data-swimlane-id="{expedite["id"]}"') < html.index(
        f'data-swimlane-id="{snapshot["swimlanes"][0]["id"]}"'
    )
    assert 'class="blocked-marker"' in html and "Waiting for legal" in html
    # every card sits in the cell of its column and swimlane
    for card in snapshot["cards"]:
        cell = re.search(
            rf'data-column-id="{card["column"]}" data-swimlane-id="{card["swimlane"]}">'
            rf"(.*?)</ol>",
            html,
            re.S,
        )
        assert f'data-card-id="{card["id"]}"' in cell.group(1)


def test_the_fragment_is_the_card_exactly_as_the_board_draws_it(world, client, busy_board):
    client.force_login(world.alice)
    card = Card.objects.get(board=busy_board, title="Second")

    response = client.get(fragment_url(busy_board, card))

    assert response.status_code == 200
    fragment = response.content.decode().strip()
    assert fragment.startswith('<li class="card') and f'data-card-id="{card.pk}"' in fragment
    assert fragment in client.get(page_url(busy_board)).content.decode()
    assert response["X-Card-Column"] == str(card.column_id)
    assert response["X-Card-Swimlane"] == str(card.swimlane_id)
    assert response["X-Card-Position"] == str(position_of(card))


def test_the_fragment_is_404_across_organisations_boards_and_for_archived_cards(
    world, client, busy_board
):
    card = Card.objects.get(board=busy_board, title="Second")
    globex_card = services.create_card(
        world.globex_board,
        title="Globex secret",
        column=world.globex_board.columns.first(),
        actor=world.gina,
    )

    # another organisation's user cannot see Acme's card, nor Acme's user Globex's
    client.force_login(world.gina)
    assert client.get(fragment_url(busy_board, card)).status_code == 404
    client.force_login(world.alice)
    assert client.get(fragment_url(world.globex_board, globex_card)).status_code == 404
    # a card asked for under another board of the same organisation
    assert client.get(fragment_url(world.board, card)).status_code == 404
    # an archived card is off the board
    services.archive_card(card, actor=world.alice)
    assert client.get(fragment_url(busy_board, card)).status_code == 404
    # and the board page itself is 404 for a foreign board
    assert client.get(page_url(world.globex_board)).status_code == 404


def test_anonymous_visitors_are_sent_to_log_in(client, world):
    response = client.get(page_url(world.board))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    card = services.create_card(
        world.board, title="x", column=world.board.columns.first(), actor=world.alice
    )
    assert client.get(fragment_url(world.board, card)).status_code == 302


@pytest.mark.parametrize(
    ("username", "writable"),
    [("alice", True), ("adam", True), ("bob", True), ("mia", False), ("victor", False)],
)
def test_read_only_users_get_no_drag_no_quick_add_and_a_view_only_dialog(
    world, client, username, writable
):
    # owner, admin and Sales members may change the Sales board; mia (Product) and victor
    # (viewer) may only look, as the API decides
    card = services.create_card(
        world.board, title="Look", column=world.column("Ready"), actor=world.alice
    )
    client.force_login(getattr(world, username))

    page = client.get(page_url(world.board)).content.decode()
    fragment = client.get(fragment_url(world.board, card)).content.decode()

    assert ('data-can-write="true"' in page) is writable
    assert ("js/board/drag.js" in page) is writable  # SortableJS comes with it
    assert ('class="quick-add-open"' in page) is writable
    assert ('id="dlg-edit"' in page) is writable
    assert ('id="dlg-block"' in page) is writable
    assert ('id="dlg-comment"' in page) is writable
    assert (">Read-only</span>" in page) is not writable
    assert 'data-card-id="' in fragment


def test_filters_come_from_the_url_and_hide_what_does_not_match(world, client, busy_board):
    client.force_login(world.bob)
    label = busy_board.labels.get(name="enterprise")
    first = Card.objects.get(board=busy_board, title="First")
    second = Card.objects.get(board=busy_board, title="Second")

    def shown(query: str) -> list[int]:
        html = client.get(page_url(busy_board) + query).content.decode()
        return card_ids(html, shown_only=True)

    assert sorted(shown("")) == sorted([first.pk, second.pk])
    assert shown("?q=seco") == [second.pk]
    assert shown("?q=SECOND+sec") == [second.pk]  # every word, any case
    assert shown(f"?q=%23{first.pk}") == [first.pk]  # by number
    assert shown("?blocked=true") == [second.pk]
    assert shown(f"?assignee={world.bob.pk}") == [first.pk]
    assert shown(f"?label={label.pk}") == [first.pk]
    assert shown(f"?label={label.pk}&blocked=true") == []
    # what does not parse is ignored, as a page should
    assert sorted(shown("?assignee=me&label=%C2%B2&blocked=maybe")) == sorted([first.pk, second.pk])

    html = client.get(page_url(busy_board) + f"?q=seco&assignee={world.bob.pk}").content.decode()
    assert 'name="q" type="search" value="seco"' in html
    assert f'<option value="{world.bob.pk}" selected>' in html
    assert f'id="filter-mine" data-me="{world.bob.pk}" checked' in html
    assert "0 of 2 cards" in html


def test_typical_cycle_time_is_the_85th_percentile_of_finished_cards(world):
    # given: five finished cards that took 1, 2, 3, 4 and 10 days from start to finish
    board = world.board
    start = timezone.now() - timedelta(days=30)
    for days in (1, 2, 3, 4, 10):
        card = services.create_card(
            board, title=f"{days}d", column=world.column("Doing"), actor=world.alice, at=start
        )
        services.move_card(
            card, to_column=world.column("Done"), actor=world.alice,
            at=start + timedelta(days=days),
        )  # fmt: skip
    # a card still in progress does not count
    services.create_card(board, title="wip", column=world.column("Doing"), actor=world.alice)

    # then: linear interpolation at 0.85 of the way: 4 + (10 - 4) * 0.4
    assert selectors.typical_cycle_time_days(board.pk) == pytest.approx(6.4)
    assert metrics.percentile([86_400 * d for d in (1, 2, 3, 4, 10)], 0.85) == pytest.approx(
        6.4 * 86_400
    )
    assert selectors.typical_cycle_time_days(world.globex_board.pk) is None


def test_work_older_than_the_typical_cycle_time_is_marked_ageing(world, client):
    board = world.board
    start = timezone.now() - timedelta(days=40)
    done = services.create_card(
        board, title="done", column=world.column("Doing"), actor=world.alice, at=start
    )
    services.move_card(
        done, to_column=world.column("Done"), actor=world.alice, at=start + timedelta(days=2)
    )
    old = services.create_card(
        board, title="old", column=world.column("Doing"), actor=world.alice, at=start
    )
    fresh = services.create_card(
        board, title="fresh", column=world.column("Doing"), actor=world.alice
    )
    waiting = services.create_card(
        board, title="old backlog", column=world.column("Backlog"), actor=world.alice, at=start
    )
    client.force_login(world.bob)

    html = client.get(page_url(board)).content.decode()

    def tag(card) -> str:
        found = re.search(rf'<li [^>]*data-card-id="{card.pk}"[^>]*>', html)
        assert found is not None, f"card {card.pk} on the page"
        return found.group(0)

    assert "is-ageing" in tag(old)
    assert "is-ageing" not in tag(fresh)
    assert "is-ageing" not in tag(waiting)  # the backlog has not started
    assert "is-ageing" not in tag(done)  # finished


def test_home_lists_my_boards_and_which_are_read_only(world, client):
    other = services.create_board(team=world.product, name="Roadmap", actor=world.alice)
    client.force_login(world.bob)

    html = client.get("/").content.decode()

    assert f'data-board-id="{world.board.pk}"' in html
    assert f'data-board-id="{other.pk}"' in html
    assert "Globex" not in html
    roadmap = html[html.index(f'data-board-id="{other.pk}"') :]
    assert "Read-only" in roadmap[: roadmap.index("</li>")]
