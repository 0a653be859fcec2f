"""The organisation's pages, server side: the overview, the global board, activity, search and a
board's stand-up. Who may open them (every member of the organisation, viewers included; 404
for anyone else), their query counts for small and larger organisations, the global board's
filters, and the stand-up's sections against a history written by hand with explicit clocks.
"""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Role
from boards import services
from boards.flow import alerts, metrics
from boards.models import Board, Card, ClassOfService, Stage
from boards.pages import reads as pages
from tests.factories import TeamFactory, member
from tests.test_board_page import add_cards

pytestmark = pytest.mark.django_db

# A Monday morning: the stand-up's "last working day" starts on the Friday before, 00:00 UTC.
MONDAY = datetime(2026, 3, 9, 9, 30, tzinfo=UTC)
FRIDAY = datetime(2026, 3, 6, tzinfo=UTC)


def org_urls(slug: str = "acme") -> list[str]:
    return [
        f"/o/{slug}/",
        f"/o/{slug}/board/",
        f"/o/{slug}/activity/",
        f"/o/{slug}/search/?q=login",
    ]


def board_urls(board) -> list[str]:
    return [f"/boards/{board.pk}/standup/", f"/boards/{board.pk}/activity/"]


def card_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<li class="card[^"]*"[^>]*data-card-id="(\d+)"', html)]


def lane_ids(html: str) -> list[int]:
    return [
        int(i) for i in re.findall(r'<section class="lane global-lane" data-board-id="(\d+)"', html)
    ]


def columns_of(board) -> dict:
    return {c.name: c for c in board.columns.all()}


# --- who may see them ----------------------------------------------------------------------------


@pytest.mark.parametrize("username", ["alice", "adam", "bob", "mia", "victor"])
def test_every_member_of_the_organisation_can_open_every_org_page(world, client, username):
    client.force_login(getattr(world, username))

    for url in org_urls() + board_urls(world.board):
        response = client.get(url)
        assert response.status_code == 200, url


def test_another_organisations_pages_answer_404_never_403(world, client):
    client.force_login(world.gina)

    for url in org_urls("acme") + board_urls(world.board):
        assert client.get(url).status_code == 404, url
    # and a slug that does not exist reads the same
    assert client.get("/o/nope/").status_code == 404


def test_anonymous_visitors_are_sent_to_the_login_page(world, client):
    for url in org_urls() + board_urls(world.board):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], url


def test_a_viewer_sees_the_org_pages_read_only(world, client):
    client.force_login(world.victor)

    html = client.get("/o/acme/").content.decode()

    assert "Read-only" in html


# --- the overview --------------------------------------------------------------------------------


@pytest.fixture
def three_boards(world):
    """Sales pipeline (from `world`) with blocked work, a full column and finished cards;
    Product's Roadmap with finished cards only; an empty board."""
    alice, now = world.alice, timezone.now()
    sales = world.board
    col = columns_of(sales)
    services.update_column(col["Doing"], wip_limit=1, actor=alice)
    for i in range(3):
        card = services.create_card(
            sales, title=f"Shipped {i}", column=col["Ready"], actor=alice,
            at=now - timedelta(days=10 + i),
        )  # fmt: skip
        services.move_card(card, to_column=col["Doing"], actor=alice, at=now - timedelta(days=9))
        card.refresh_from_db()
        services.move_card(card, to_column=col["Done"], actor=alice, at=now - timedelta(days=2 + i))
    doing = services.create_card(sales, title="Fix login", column=col["Doing"], actor=alice)
    services.block_card(doing, reason="Waiting for IT", actor=alice, at=now - timedelta(days=2))
    roadmap = services.create_board(team=world.product, name="Roadmap", actor=alice)
    rcol = columns_of(roadmap)
    shipped = services.create_card(roadmap, title="Dark mode", column=rcol["Doing"], actor=alice)
    services.move_card(shipped, to_column=rcol["Done"], actor=alice)
    empty = services.create_board(team=world.product, name="Attic", actor=alice)
    for board in (sales, roadmap, empty):
        metrics.refresh_snapshot(board.pk)
    return {"sales": sales, "roadmap": roadmap, "empty": empty}


def overview_rows(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr data-board-id="(\d+)"', html)]


def test_overview_has_a_row_per_board_linking_to_it_its_metrics_and_its_standup(
    world, client, three_boards
):
    client.force_login(world.victor)

    html = client.get("/o/acme/").content.decode()

    boards = three_boards.values()
    assert sorted(overview_rows(html)) == sorted(b.pk for b in boards)
    assert str(world.globex_board.pk) not in overview_rows(html)
    for board in boards:
        assert f'href="/boards/{board.pk}/"' in html
        assert f'href="/boards/{board.pk}/metrics/"' in html
        assert f'href="/boards/{board.pk}/standup/"' in html
    assert html.count('<svg class="sparkline"') == 3


def test_overview_colours_wip_at_or_over_its_limit_and_shows_the_blocked_count(
    world, client, three_boards
):
    client.force_login(world.alice)

    html = client.get("/o/acme/").content.decode()

    sales_row = html.split(f'<tr data-board-id="{three_boards["sales"].pk}"')[1].split("</tr>")[0]
    assert "wip-at" in sales_row  # Doing holds 1 card, its limit is 1
    assert '<span class="blocked-figure">1</span>' in sales_row
    assert "oldest 2.0 days" in sales_row


def test_overview_sorts_by_the_clicked_column_both_ways(world, client, three_boards):
    client.force_login(world.alice)
    names = {b.pk: b.name for b in three_boards.values()}

    default = [names[i] for i in overview_rows(client.get("/o/acme/").content.decode())]
    by_name = [
        names[i] for i in overview_rows(client.get("/o/acme/?sort=board_name").content.decode())
    ]
    by_name_desc = client.get("/o/acme/?sort=-board_name").content.decode()
    by_blocked = client.get("/o/acme/?sort=-blocked").content.decode()

    assert default == ["Attic", "Roadmap", "Sales pipeline"]  # team, then name
    assert by_name == ["Attic", "Roadmap", "Sales pipeline"]
    assert [names[i] for i in overview_rows(by_name_desc)] == ["Sales pipeline", "Roadmap", "Attic"]
    assert overview_rows(by_blocked)[0] == three_boards["sales"].pk
    # the heading of the sorted column says so, and its link flips the direction
    assert 'aria-sort="descending"><a href="?sort=blocked"' in by_blocked


def test_overview_ignores_a_sort_it_does_not_know(world, client, three_boards):
    client.force_login(world.alice)

    response = client.get("/o/acme/?sort=password")

    assert response.status_code == 200
    assert len(overview_rows(response.content.decode())) == 3


# --- the global board ----------------------------------------------------------------------------


@pytest.fixture
def wall(world):
    """Two teams' boards with work in every stage: Sales pipeline (world.board) and Product's
    Roadmap, labels named alike on both, blocked cards on both, done recently and long ago."""
    alice, bob, mia, now = world.alice, world.bob, world.mia, timezone.now()
    sales, scol = world.board, columns_of(world.board)
    roadmap = services.create_board(team=world.product, name="Roadmap", actor=alice)
    rcol = columns_of(roadmap)
    s_urgent = services.create_label(sales, name="urgent", color="#dc2626", actor=alice)
    r_urgent = services.create_label(roadmap, name="Urgent", color="#dc2626", actor=alice)

    def card(board, cols, title, column, **fields):
        return services.create_card(board, title=title, column=cols[column], actor=alice, **fields)

    cards = {
        "idea": card(sales, scol, "Idea for onboarding", "Backlog"),
        "ready": card(sales, scol, "Call Globex back", "Ready", assignees=[bob]),
        "review": card(sales, scol, "Contract for Initech", "Review", labels=[s_urgent]),
        "doing": card(sales, scol, "Fix the login page", "Doing", assignees=[bob],
                      class_of_service=ClassOfService.EXPEDITE),
        "r_doing": card(roadmap, rcol, "Dark mode", "Doing", assignees=[mia], labels=[r_urgent]),
        "r_ready": card(roadmap, rcol, "Export to PDF", "Ready", customer="Initech"),
    }  # fmt: skip
    services.block_card(cards["doing"], reason="Waiting for IT", actor=alice)
    services.block_card(cards["r_ready"], reason="Legal review", actor=mia)
    recent = card(roadmap, rcol, "Shipped this week", "Doing")
    services.move_card(recent, to_column=rcol["Done"], actor=mia, at=now - timedelta(days=2))
    old = card(roadmap, rcol, "Shipped last month", "Doing", at=now - timedelta(days=40))
    services.move_card(old, to_column=rcol["Done"], actor=mia, at=now - timedelta(days=30))
    cards.update(recent=recent, old=old)
    return {"sales": sales, "roadmap": roadmap, "cards": cards}


def global_board(client, query: str = "") -> str:
    response = client.get(f"/o/acme/board/{query}")
    assert response.status_code == 200
    return response.content.decode()


def test_global_board_shows_every_teams_cards_one_lane_per_board_done_of_the_last_week_only(
    world, client, wall
):
    client.force_login(world.victor)
    cards = wall["cards"]

    html = global_board(client)

    assert lane_ids(html) == [wall["roadmap"].pk, wall["sales"].pk]  # Product before Sales
    shown = set(card_ids(html))
    assert shown == {c.pk for key, c in cards.items() if key != "old"}
    assert f'href="/boards/{wall["sales"].pk}/#card-{cards["doing"].pk}"' in html
    assert str(world.globex_board.pk) not in lane_ids(html)
    # each board in scope is listed with its seq, for the live updates
    sales_seq = Board.objects.get(pk=wall["sales"].pk).last_seq
    assert (
        f'data-boards="{wall["roadmap"].pk}:' in html and f"{wall['sales'].pk}:{sales_seq}" in html
    )


def test_global_board_filter_blocked_keeps_only_blocked_cards_of_every_team(world, client, wall):
    client.force_login(world.alice)

    html = global_board(client, "?blocked=true")

    assert set(card_ids(html)) == {wall["cards"]["doing"].pk, wall["cards"]["r_ready"].pk}
    assert lane_ids(html) == [wall["roadmap"].pk, wall["sales"].pk]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?team={product}", {"r_doing", "r_ready", "recent"}),
        ("?person={bob}", {"ready", "doing"}),
        ("?label=URGENT", {"review", "r_doing"}),  # by name, on both boards, any case
        ("?class_of_service=expedite", {"doing"}),
        ("?q=initech", {"review", "r_ready"}),  # title or customer
        ("?q=%23{doing_id}", {"doing"}),  # a card number
        ("?blocked=true&team={sales}", {"doing"}),
        ("?class_of_service=nonsense&person=abc", None),  # ignored: everything
    ],
)
def test_global_board_filters_apply_on_the_server(world, client, wall, query, expected):
    client.force_login(world.alice)
    cards = wall["cards"]
    query = query.format(
        product=world.product.pk, sales=world.sales.pk, bob=world.bob.pk,
        doing_id=cards["doing"].pk,
    )  # fmt: skip

    html = global_board(client, query)

    keys = set(cards) - {"old"} if expected is None else expected
    assert set(card_ids(html)) == {cards[key].pk for key in keys}


def test_global_board_shows_the_top_of_each_backlog_and_counts_the_rest(world, client):
    col = columns_of(world.board)
    for i in range(pages.BACKLOG_SHOWN + 3):
        services.create_card(
            world.board, title=f"idea {i}", column=col["Backlog"], actor=world.alice
        )
    client.force_login(world.alice)

    html = global_board(client)
    filtered = global_board(client, "?q=idea")

    assert len(card_ids(html)) == pages.BACKLOG_SHOWN
    assert "+ 3 more in the backlog" in html
    assert len(card_ids(filtered)) == pages.BACKLOG_SHOWN + 3  # a filter shows every match


def test_global_board_fragment_is_the_grid_alone(world, client, wall):
    client.force_login(world.alice)

    response = client.get("/o/acme/board/?blocked=true", HTTP_X_OBEYA_FRAGMENT="grid")

    html = response.content.decode()
    assert html.lstrip().startswith('<div id="global-grid"')
    assert "<html" not in html and "global-filters" not in html
    assert set(card_ids(html)) == {wall["cards"]["doing"].pk, wall["cards"]["r_ready"].pk}
    assert "X-Obeya-Fragment" in response["Vary"]


# --- query counts: a fixed number, whatever the size of the organisation -------------------------


def count_queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(queries)


ORG_PAGES = [
    "/o/acme/",
    "/o/acme/board/",
    "/o/acme/board/?blocked=true&label=urgent&person={bob}&q=card",
    "/o/acme/activity/",
    "/o/acme/activity/?page=2",
    "/o/acme/search/?q=onboard",
]


def test_org_pages_cost_the_same_queries_for_one_board_or_seven_busy_ones(
    world, client, django_assert_max_num_queries
):
    # given: the small organisation, measured
    client.force_login(world.alice)
    add_cards(world.board, 10, people=[world.bob], labels=[])
    urls = [url.format(bob=world.bob.pk) for url in ORG_PAGES]
    small = {url: count_queries(client, url) for url in urls}

    # when: it grows to seven boards and 730 cards (and enough events for a second page)
    _grow(world)

    # then: no page needs a query more
    for url in urls:
        with django_assert_max_num_queries(small[url], info=url):
            response = client.get(url)
        assert response.status_code == 200
    assert small["/o/acme/"] <= 11  # session (2), membership (1), overview (7), team waits (1)
    assert small["/o/acme/board/"] <= 10  # session (2), membership (1), global board (7)


def _grow(world) -> None:
    for t in range(3):
        team = TeamFactory.create(organization=world.acme, name=f"Team {t}", slug=f"team-{t}")
        for b in range(2):
            board = services.create_board(team=team, name=f"Board {t}.{b}", actor=world.alice)
            label = services.create_label(board, name="urgent", color="#dc2626", actor=world.alice)
            add_cards(board, 120, people=[world.bob, world.mia], labels=[label])
            for card in Card.objects.filter(board=board, column__stage=Stage.BACKLOG)[:10]:
                services.update_card(card, title=card.title + " (edited)", actor=world.alice)
            metrics.refresh_snapshot(board.pk)
    for i in range(5):
        member(world.acme, f"extra{i}", Role.MEMBER)


def test_standup_and_board_activity_cost_the_same_queries_for_a_small_or_busy_board(
    world, client, django_assert_max_num_queries
):
    client.force_login(world.alice)
    board = world.board
    col = columns_of(board)
    card = services.create_card(board, title="One", column=col["Ready"], actor=world.alice)
    services.move_card(card, to_column=col["Doing"], actor=world.bob)
    card.refresh_from_db()
    services.move_card(card, to_column=col["Done"], actor=world.bob)  # a p85 to age against
    services.add_comment(card, body="Shipped", actor=world.bob)  # the feed names its card
    urls = [f"/boards/{board.pk}/standup/", f"/boards/{board.pk}/activity/"]
    small = {url: count_queries(client, url) for url in urls}

    # a busy board: hundreds of cards, moves today, blocks, comments and WIP alerts
    add_cards(board, 400, people=[world.bob, world.mia])
    services.update_column(col["Review"], wip_limit=1, actor=world.alice)
    for c in Card.objects.filter(board=board, column=col["Ready"], archived=False)[:12]:
        services.move_card(c, to_column=col["Review"], actor=world.bob)
        services.add_comment(c, body="Moved for review", actor=world.bob)
    for c in Card.objects.filter(board=board, column=col["Doing"], blocked=False)[:5]:
        services.block_card(c, reason="Waiting", actor=world.bob)
    # and cards of another team waiting on some of its cards (the stand-up's first section)
    other = services.create_board(team=world.product, name="Roadmap", actor=world.alice)
    upstream = list(Card.objects.filter(board=board, column=col["Ready"], archived=False)[:3])
    for i in range(6):
        waiting = services.create_card(
            other, title=f"Needs {i}", column=other.columns.get(name="Ready"), actor=world.alice
        )
        services.add_wait(waiting, on=upstream[i % 3], actor=world.alice)
    alerts.check_wip_alerts(board.pk)

    for url in urls:
        with django_assert_max_num_queries(small[url], info=url):
            assert client.get(url).status_code == 200
    assert small[urls[0]] <= 12  # session (2), board (1), stand-up (9)


# --- the stand-up --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (datetime(2026, 3, 9, 9, 30, tzinfo=UTC), datetime(2026, 3, 6, tzinfo=UTC)),  # Mon -> Fri
        (datetime(2026, 3, 10, 0, 5, tzinfo=UTC), datetime(2026, 3, 9, tzinfo=UTC)),  # Tue -> Mon
        (datetime(2026, 3, 13, 17, 0, tzinfo=UTC), datetime(2026, 3, 12, tzinfo=UTC)),  # Fri
        (datetime(2026, 3, 14, 10, 0, tzinfo=UTC), datetime(2026, 3, 13, tzinfo=UTC)),  # Sat
        (datetime(2026, 3, 15, 10, 0, tzinfo=UTC), datetime(2026, 3, 13, tzinfo=UTC)),  # Sun
    ],
)
def test_the_last_working_day_starts_on_the_working_day_before_today(now, expected):
    assert pages.previous_working_day_start(now) == expected


@pytest.fixture
def history(world):
    """Sales pipeline's week, written with explicit clocks up to MONDAY 09:30:

    - two cards finished long ago, cycle times 1 and 2 days (with Contract's, p85 = 1.94 d);
    - "Contract": Ready -> Doing on Thursday (before the window), Doing -> Review on Friday by
      bob, Review -> Done on Saturday by alice;
    - "Invoice": created in Ready on Sunday by alice, then reordered (not a move);
    - "Login": in Doing since 10 days, blocked on Thursday by bob ("Waiting for IT");
    - "Stale": in Ready, last changed 5 days ago; "Discussed": the same, but commented on
      yesterday; Review holds two cards against a soft limit of one (an open WIP alert).
    """
    alice, bob = world.alice, world.bob
    board = world.board
    col = columns_of(board)
    ago = lambda days: MONDAY - timedelta(days=days)  # noqa: E731
    for i, cycle in enumerate((1, 2)):
        done = services.create_card(
            board, title=f"Old {i}", column=col["Ready"], actor=alice, at=ago(40)
        )
        services.move_card(done, to_column=col["Doing"], actor=alice, at=ago(30))
        done.refresh_from_db()
        services.move_card(done, to_column=col["Done"], actor=alice, at=ago(30 - cycle))
    contract = services.create_card(
        board, title="Contract", column=col["Ready"], actor=alice, at=ago(6)
    )
    services.move_card(
        contract, to_column=col["Doing"], actor=bob, at=datetime(2026, 3, 5, 15, tzinfo=UTC)
    )
    contract.refresh_from_db()
    services.move_card(
        contract, to_column=col["Review"], actor=bob, at=datetime(2026, 3, 6, 11, tzinfo=UTC)
    )
    contract.refresh_from_db()
    services.move_card(
        contract, to_column=col["Done"], actor=alice, at=datetime(2026, 3, 7, 10, tzinfo=UTC)
    )
    login = services.create_card(
        board, title="Login", column=col["Doing"], assignees=[bob], actor=alice, at=ago(10)
    )
    services.block_card(
        login, reason="Waiting for IT", actor=bob, at=datetime(2026, 3, 5, 9, 30, tzinfo=UTC)
    )
    stale = services.create_card(board, title="Stale", column=col["Ready"], actor=alice, at=ago(5))
    discussed = services.create_card(
        board, title="Discussed", column=col["Ready"], actor=alice, at=ago(5)
    )
    services.add_comment(discussed, body="Still on it", actor=bob, at=ago(1))
    invoice = services.create_card(
        board,
        title="Invoice",
        column=col["Ready"],
        actor=alice,
        at=datetime(2026, 3, 8, 12, tzinfo=UTC),
    )
    services.move_card(
        invoice,
        to_column=col["Ready"],
        position=0,
        actor=alice,
        at=datetime(2026, 3, 8, 13, tzinfo=UTC),
    )
    services.update_column(col["Review"], wip_limit=1, actor=alice)
    for title in ("Review A", "Review B"):
        services.create_card(
            board, title=title, column=col["Review"], actor=alice, at=ago(0.5), override_reason=""
        )
    alerts.check_wip_alerts(board.pk, at=ago(0.5))
    # a card moved after "now" is not yesterday's
    services.move_card(stale, to_column=col["Doing"], actor=bob, at=MONDAY + timedelta(hours=2))
    Card.objects.filter(pk=stale.pk).update(updated_at=ago(5))  # as if "now" came before it
    return {"contract": contract, "login": login, "stale": stale, "discussed": discussed,
            "invoice": invoice}  # fmt: skip


def section(standup: dict, name: str) -> dict:
    return next(c for c in standup["columns"] if c["name"] == name)


def test_standup_walks_the_columns_right_to_left_with_each_arrival_and_who_made_it(world, history):
    standup = pages.standup(world.board, now=MONDAY)

    assert standup["since"] == FRIDAY
    assert [c["name"] for c in standup["columns"]] == [
        "Done",
        "Review",
        "Doing",
        "Ready",
        "Backlog",
    ]
    done = section(standup, "Done")["arrivals"]
    assert [(a["card"]["title"], a["from_column"], a["actor"]) for a in done] == [
        ("Contract", "Review", world.alice.display_name)
    ]
    review = section(standup, "Review")["arrivals"]
    contract = next(a for a in review if a["card"]["title"] == "Contract")
    assert contract["from_column"] == "Doing"
    assert contract["actor"] == world.bob.display_name
    assert contract["moved_on"]  # it went on to Done
    # Thursday's move into Doing is before the window; the card moved after "now" is not in it
    assert section(standup, "Doing")["arrivals"] == []
    ready = section(standup, "Ready")["arrivals"]
    assert [(a["card"]["title"], a["kind"]) for a in ready] == [
        ("Invoice", "created")
    ]  # reorder: no


def test_standup_lists_blocked_cards_with_reason_and_blocked_time(world, history):
    standup = pages.standup(world.board, now=MONDAY)

    [blocked] = standup["blocked"]
    assert blocked["card"]["title"] == "Login"
    assert blocked["reason"] == "Waiting for IT"
    assert blocked["by"] == world.bob.display_name
    assert blocked["days"] == pytest.approx(4.0)  # Thursday 09:30 to Monday 09:30
    assert blocked["card"]["people"][0]["username"] == "bob"


def test_standup_lists_work_older_than_the_boards_p85_cycle_time(world, history):
    standup = pages.standup(world.board, now=MONDAY)

    contract_cycle = datetime(2026, 3, 7, 10, tzinfo=UTC) - datetime(2026, 3, 5, 15, tzinfo=UTC)
    cycles = sorted([1, 2, contract_cycle.total_seconds() / 86_400])
    assert standup["p85"] == pytest.approx(metrics.percentile(cycles, 0.85))
    ageing = {a["card"]["title"]: a["days"] for a in standup["ageing"]}
    # committed 10, 5, 5 days before; Invoice (Sunday) and the Review cards (today) are younger
    assert set(ageing) == {"Login", "Stale", "Discussed"}
    assert ageing["Login"] == pytest.approx(10)
    assert next(iter(ageing)) == "Login"  # the oldest first


def test_standup_lists_open_wip_alerts_and_cards_untouched_for_n_days(world, history):
    standup = pages.standup(world.board, now=MONDAY, untouched_days=3)

    assert [b["kind"] for b in standup["breaches"]] == ["wip_column"]
    assert "Review" in standup["breaches"][0]["detail"]
    untouched = [u["card"]["title"] for u in standup["untouched"]]
    # the stalest first; "Discussed" was commented on yesterday, Login blocked 4 days ago
    assert untouched == ["Stale", "Login"]
    assert pages.standup(world.board, now=MONDAY, untouched_days=6)["untouched"] == []


def test_standup_page_renders_every_section_for_print_and_wall(world, client, history):
    client.force_login(world.victor)

    html = client.get(f"/boards/{world.board.pk}/standup/?days=4&wall=1").content.decode()

    for heading in (
        "The board, right to left",
        "Blocked",
        "Ageing past p85",
        "WIP-limit breaches",
        "Untouched for 4 days",
    ):
        assert heading in html
    assert "Waiting for IT" in html
    assert 'class="page-org page-standup wall"' in html
    # no timed refresh (axe: meta-refresh); org.js follows the board's log from this seq
    assert "http-equiv" not in html
    world.board.refresh_from_db()
    assert f'data-seq="{world.board.last_seq}"' in html


def test_standup_page_without_finished_work_says_there_is_no_p85_yet(world, client):
    client.force_login(world.alice)

    html = client.get(f"/boards/{world.board.pk}/standup/?days=junk").content.decode()

    assert "no typical cycle time" in html
    assert "Untouched for 3 days" in html


# --- search --------------------------------------------------------------------------------------


def test_search_finds_cards_by_comment_text_across_boards_grouped_by_board(world, client, wall):
    cards = wall["cards"]
    services.add_comment(
        cards["r_doing"], body="The contrast ratio fails on buttons", actor=world.mia
    )
    services.add_comment(
        cards["ready"], body="They asked about contrast ratio too", actor=world.bob
    )
    globex_card = services.create_card(
        world.globex_board, title="Contrast ratio", column=columns_of(world.globex_board)["Ready"],
        actor=world.gina,
    )  # fmt: skip
    client.force_login(world.victor)

    html = client.get("/o/acme/search/?q=contrast+ratio").content.decode()

    assert f'href="/boards/{wall["roadmap"].pk}/#card-{cards["r_doing"].pk}"' in html
    assert f'href="/boards/{wall["sales"].pk}/#card-{cards["ready"].pk}"' in html
    assert f"#card-{globex_card.pk}" not in html
    assert html.count('class="result-group"') == 2
    assert "<mark>contrast</mark>" in html.lower()
    assert "2 cards match" in html


def test_search_with_no_query_or_no_match_says_so(world, client):
    client.force_login(world.alice)

    assert "Search every board of Acme" in client.get("/o/acme/search/").content.decode()
    assert "Nothing matches" in client.get("/o/acme/search/?q=zebra").content.decode()


def test_the_header_search_box_searches_the_pages_organisation(world, client):
    client.force_login(world.alice)

    home = client.get("/").content.decode()
    board = client.get(f"/boards/{world.board.pk}/").content.decode()
    gina = client
    assert 'action="/o/acme/search/"' in home
    assert 'action="/o/acme/search/"' in board
    assert 'href="/o/acme/"' in home  # the organisation's heading links to its overview
    gina.force_login(world.gina)
    assert 'action="/o/globex/search/"' in client.get("/").content.decode()


def test_the_board_page_links_to_its_standup_and_activity(world, client):
    client.force_login(world.alice)

    html = client.get(f"/boards/{world.board.pk}/").content.decode()

    assert f'href="/boards/{world.board.pk}/standup/"' in html
    assert f'href="/boards/{world.board.pk}/activity/"' in html


# --- activity ------------------------------------------------------------------------------------


def test_org_activity_is_paginated_newest_first_and_names_the_boards(world, client, wall):
    for value in range(60):
        services.update_card(wall["cards"]["idea"], value=value, actor=world.bob)
    services.block_card(wall["cards"]["ready"], reason="On holiday", actor=world.bob)
    client.force_login(world.alice)

    first = client.get("/o/acme/activity/").content.decode()
    second = client.get("/o/acme/activity/?page=2").content.decode()

    items = re.findall(r'data-board-id="(\d+)" data-seq="(\d+)"', first)
    assert len(items) == 50  # a page
    assert items[0] == (str(wall["sales"].pk), str(Board.objects.get(pk=wall["sales"].pk).last_seq))
    assert (
        f"{world.bob.display_name} blocked “Call Globex back”: On holiday" in first
    )  # the newest first
    assert 'href="?page=2"' in first
    assert "Page 2 of" in second and 'href="?page=1"' in second
    assert str(world.globex_board.pk) not in {b for b, _ in items}


def test_board_activity_shows_its_events_and_links_its_csv_exports(world, client, wall):
    client.force_login(world.victor)
    board = wall["roadmap"]

    html = client.get(f"/boards/{board.pk}/activity/").content.decode()

    assert f"{world.mia.display_name} blocked “Export to PDF”: Legal review" in html
    assert f'href="/api/v1/boards/{board.pk}/export/cards.csv"' in html
    boards_named = set(re.findall(r'data-board-id="(\d+)"', html))
    assert boards_named == {str(board.pk)}


# --- template helpers -------------------------------------------------------------------------


def test_sparkline_scales_to_the_largest_week_and_marks_the_last():
    from boards.templatetags.org_pages import sparkline

    svg = sparkline([0, 2, 4], width=44, height=22, label="Weekly <3")

    points = re.search(r'points="([^"]+)"', svg).group(1).split()
    assert points == ["2.0,20.0", "22.0,11.0", "42.0,2.0"]  # 0 at the bottom, 4 at the top
    assert 'cx="42.0" cy="2.0"' in svg
    assert 'aria-label="Weekly &lt;3"' in svg
    assert "2.0,20.0 22.0,20.0" in sparkline([0, 0], width=24, height=22)  # all zero: flat


def test_highlight_marks_the_words_and_escapes_everything_else():
    from boards.templatetags.org_pages import highlight

    assert highlight("<b>Tom & Jerry</b> amp", "tom amp") == (
        "&lt;b&gt;<mark>Tom</mark> &amp; Jerry&lt;/b&gt; <mark>amp</mark>"
    )
    assert highlight("a < b", "") == "a &lt; b"


def test_search_shows_descriptions_as_read_not_as_markdown(world, client):
    col = columns_of(world.board)
    services.create_card(
        world.board, title="Import users", column=col["Ready"], actor=world.alice,
        description="Their export has **3,400 users** & <script>alert(1)</script> more",
    )  # fmt: skip
    client.force_login(world.alice)

    html = client.get("/o/acme/search/?q=export").content.decode()

    assert "Their <mark>export</mark> has 3,400 users &amp; " in html
    assert "**" not in html and "<script>alert" not in html
