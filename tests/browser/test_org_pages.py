"""The organisation in one view, in a real browser: the managers' overview, the global board
(filters, a click through to a board, live updates), a board's stand-up, search from the header
and the activity feed, against the app under uvicorn. Screenshots of every page go to
artifacts/screenshots/ (org-*.png).

The data is the browser suite's Acme plus, built once per run (tests/browser/conftest.py's
way): a third team and board (Marketing's "Website", with blocked and recently finished work),
moves made "yesterday" (in the last working day) by bob, carol and frank with explicit clocks,
a blocked IT card, and fresh metrics snapshots for the overview.
"""

import json
import re
import urllib.request
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone
from playwright.sync_api import Page, expect

from accounts import services as accounts_services
from boards import services
from boards.flow import metrics
from boards.models import Board, Card, Column
from boards.pages import reads as pages
from tests.browser.conftest import PHONE, Acme

pytestmark = pytest.mark.django_db(transaction=True)

IT_BLOCK_REASON = "Waiting for the security team to sign the CSR"
WEB_BLOCK_REASON = "Legal has not approved the wording yet"


@dataclass
class Org:
    acme: Acme
    web: Board

    def card(self, title: str) -> Card:
        return Card.objects.get(board__organization=self.acme.org, title=title)


def extend_acme(acme: Acme) -> dict[str, int]:
    """Acme's extra history for these pages, through the services with explicit clocks."""
    now = timezone.now()
    yesterday = pages.previous_working_day_start(now) + timedelta(hours=10)
    alice, bob, carol, frank = acme.alice, acme.bob, acme.carol, acme.frank

    marketing = accounts_services.create_team(
        acme.org, name="Marketing", slug="marketing", members=[carol], actor=alice
    )
    web = services.create_board(team=marketing, name="Website", actor=alice, at=now - timedelta(40))
    col = {c.name: c for c in web.columns.all()}
    services.update_column(col["Doing"], wip_limit=2, actor=alice)

    def card(title: str, column: str, days: float, **fields) -> Card:
        return services.create_card(
            web, title=title, column=col[column], actor=carol, at=now - timedelta(days), **fields
        )

    def finish(title: str, days: float) -> None:
        done = Card.objects.get(board=web, title=title)
        services.move_card(done, to_column=col["Done"], actor=carol, at=now - timedelta(days))

    # in the order it happened, so that the activity feed reads as a story
    card("Spring newsletter", "Doing", 30, assignees=[carol])
    finish("Spring newsletter", 20)
    banner = card("Cookie banner in four languages", "Doing", 9, assignees=[carol])
    card("Update the team page", "Doing", 8, assignees=[carol])
    card("Landing page for the spring campaign", "Backlog", 6)
    card("Fix the broken links on the blog", "Doing", 5, assignees=[carol])
    card("Customer story: Blue Harbor", "Ready", 4, assignees=[carol])
    finish("Update the team page", 4)
    card("Rewrite the pricing FAQ", "Backlog", 3)
    services.block_card(banner, reason=WEB_BLOCK_REASON, actor=carol, at=now - timedelta(3))
    card("New pricing page", "Doing", 2, assignees=[carol])
    finish("Fix the broken links on the blog", 2)

    # yesterday: what the stand-up must tell
    services.move_card(
        acme.cards["ready1"], to_column=acme.columns["Doing"], actor=bob, at=yesterday
    )
    services.move_card(
        acme.cards["review1"],
        to_column=acme.columns["Done"],
        actor=carol,
        at=yesterday + timedelta(hours=1),
    )
    it = {c.name: c for c in Column.objects.filter(board=acme.it_board)}
    services.move_card(
        acme.cards["Laptop for new hire Jonas"],
        to_column=it["Doing"],
        actor=frank,
        at=yesterday + timedelta(hours=2),
    )
    services.block_card(
        acme.cards["Renew the TLS certificate for api.acme.example"],
        reason=IT_BLOCK_REASON,
        actor=frank,
        at=yesterday + timedelta(hours=3),
    )
    return {"web": web.pk}


@pytest.fixture(scope="session")
def org_snapshot(django_db_setup, django_db_blocker, acme_snapshot, tmp_path_factory):
    """Acme extended once (as acme_snapshot builds Acme once) and kept as a fixture file."""
    acme_path, built = acme_snapshot
    path = tmp_path_factory.mktemp("org") / "org.json"
    with django_db_blocker.unblock():
        call_command("loaddata", str(acme_path), verbosity=0)
        with transaction.atomic():
            ids = extend_acme(built.refetched())
        for board in Board.objects.all():
            metrics.refresh_snapshot(board.pk)
        call_command("dumpdata", "accounts", "boards", output=str(path), verbosity=0)
        call_command("flush", interactive=False, verbosity=0)
    return path, built, ids


@pytest.fixture
def org(transactional_db, org_snapshot) -> Org:
    path, built, ids = org_snapshot
    call_command("loaddata", str(path), verbosity=0)
    return Org(acme=built.refetched(), web=Board.objects.get(pk=ids["web"]))


def overview_order(page: Page) -> list[int]:
    rows = page.locator("tbody tr")
    return [int(i) for i in rows.evaluate_all("e => e.map(r => r.dataset.boardId)")]


def tiles(page: Page):
    return page.locator("#global-grid .tile")


def test_alice_reads_the_overview_then_the_global_board_filters_to_blocked_and_opens_a_board(
    org, open_page, screenshot
):
    acme = org.acme
    boards = {acme.board.pk, acme.it_board.pk, org.web.pk}

    # the overview: a row for every board, with its figures
    page = open_page(acme.alice, "/o/acme/")
    expect(page.locator("tbody tr")).to_have_count(3)
    assert set(overview_order(page)) == boards
    sales_row = page.locator(f'tr[data-board-id="{acme.board.pk}"]')
    expect(sales_row.locator(".blocked-figure")).to_have_text("1")
    expect(page.locator(f'tr[data-board-id="{org.web.pk}"] .wip-figure')).to_have_class(
        re.compile("wip-at")
    )
    screenshot(page, "org-overview")

    # a click on a heading sorts by it: the board names, A to Z
    default = overview_order(page)
    page.locator("thead").get_by_role("link", name="Board", exact=True).click()
    page.wait_for_url("**/o/acme/?sort=board_name")
    names = page.locator("tbody .board-link").all_inner_texts()
    assert names == ["Customer onboarding", "IT operations", "Website"]
    assert overview_order(page) != default

    # the global board: one lane per board, live
    page.get_by_role("link", name="Global board").click()
    page.wait_for_url("**/o/acme/board/")
    expect(page.locator(".global-lane")).to_have_count(3)
    expect(page.locator(".live-indicator")).to_have_text("Live")
    assert tiles(page).count() > 20
    screenshot(page, "org-global-board")

    # filtered to blocked cards: only those remain, from every team that has one
    page.get_by_label("Blocked").check()
    page.wait_for_url(re.compile(r"/o/acme/board/\?blocked=true$"))
    expect(tiles(page)).to_have_count(3)
    assert set(tiles(page).evaluate_all("e => e.map(t => t.dataset.blocked)")) == {"true"}
    shown_boards = {int(b) for b in tiles(page).evaluate_all("e => e.map(t => t.dataset.boardId)")}
    assert shown_boards == boards
    expect(page.locator(".global-lane").filter(has_text="IT operations")).to_contain_text(
        IT_BLOCK_REASON
    )
    screenshot(page, "org-global-board-blocked")

    # a click on a card opens it on its board
    tls = org.card("Renew the TLS certificate for api.acme.example")
    page.locator(f'.tile[data-card-id="{tls.pk}"]').click()
    page.wait_for_url(f"**/boards/{acme.it_board.pk}/#card-{tls.pk}")
    expect(page.locator("#card-dialog")).to_be_visible()
    expect(page.locator("#card-dialog [data-field=blocked]")).to_contain_text(IT_BLOCK_REASON)


def test_the_global_board_follows_moves_and_blocks_on_every_board_it_shows(org, open_page):
    acme = org.acme
    page = open_page(acme.victor, "/o/acme/board/?blocked=true")
    expect(page.locator(".live-indicator")).to_have_text("Live")
    expect(tiles(page)).to_have_count(3)
    page.wait_for_function("() => window.obeyaGlobal && window.obeyaGlobal.state === 'live'")

    # someone on the IT board blocks a card: it appears on the filtered wall
    laptop = org.card("Laptop for new hire Jonas")
    services.block_card(laptop, reason="The supplier is out of stock", actor=acme.frank)
    expect(page.locator(f'.tile[data-card-id="{laptop.pk}"]')).to_be_visible(timeout=5000)
    expect(tiles(page)).to_have_count(4)

    # and one on the Sales board unblocked: it leaves it
    services.unblock_card(acme.cards["doing2"], actor=acme.carol)
    expect(page.locator(f'.tile[data-card-id="{acme.cards["doing2"].pk}"]')).to_have_count(0)
    expect(tiles(page)).to_have_count(3)


def test_the_global_board_opens_one_websocket_and_follows_a_move_made_through_the_api(
    org, open_page, live_server_url, screenshot
):
    # given: victor on the global board, every websocket the page opens recorded
    acme = org.acme
    laptop = org.card("Laptop for new hire Jonas")
    page = open_page(acme.victor, "/")
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    page.goto("/o/acme/board/")
    page.wait_for_function("() => window.obeyaGlobal && window.obeyaGlobal.state === 'live'")
    lanes = page.locator(".global-lane").count()
    assert lanes >= 3
    it_lane = page.locator(f'.global-lane[data-board-id="{acme.it_board.pk}"]')
    expect(
        it_lane.locator(f'.cell[data-stage="active"] .tile[data-card-id="{laptop.pk}"]')
    ).to_have_count(1)

    # when: frank moves the card to Done on the IT board, through the REST API (his token)
    _, token = accounts_services.create_api_token(user=acme.frank)
    done = Column.objects.get(board=acme.it_board, name="Done")
    request = urllib.request.Request(
        f"{live_server_url}/api/v1/cards/{laptop.pk}/move/",
        method="POST",
        data=json.dumps({"column": done.pk}).encode(),
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        seq = json.loads(answer.read())["seq"]

    # then: the wall shows it finished, on the one socket the page opened for every board
    expect(
        it_lane.locator(f'.cell[data-stage="done"] .tile[data-card-id="{laptop.pk}"]')
    ).to_have_count(1, timeout=5000)
    page.wait_for_function(
        f"() => window.obeyaGlobal.seqOf({acme.it_board.pk}) === {seq}", timeout=5000
    )
    assert sockets == [live_server_url.replace("http://", "ws://") + "/ws/orgs/acme/"]
    screenshot(page, "org-global-board-live")


def test_the_standup_lists_yesterdays_moves_with_who_made_them_and_the_blocked_cards(
    org, open_page, screenshot
):
    acme = org.acme
    page = open_page(acme.victor, f"/boards/{acme.board.pk}/")
    page.locator(".board-links").get_by_role("link", name="Stand-up").click()
    page.wait_for_url(f"**/boards/{acme.board.pk}/standup/")

    # right to left: Done first, then Review, Doing, Ready, Backlog
    columns = page.locator(".walk-column h3 .col-name").all_inner_texts()
    assert columns == ["Done", "Review", "Doing", "Ready", "Backlog"]
    done = page.locator(f'.walk-column[data-column-id="{acme.columns["Done"].pk}"]')
    expect(done.locator(".item").filter(has_text="Migrate Blue Harbor")).to_contain_text(
        "finished, from Review by Carol Nguyen"
    )
    doing = page.locator(f'.walk-column[data-column-id="{acme.columns["Doing"].pk}"]')
    expect(doing.locator(".item").filter(has_text="Onboard Redwood Outdoor")).to_contain_text(
        "from Ready by Bob Martin"
    )
    blocked = page.locator("#blocked .item")
    expect(blocked).to_have_count(1)
    expect(blocked).to_contain_text("Train Vantage Motors' team leads")
    expect(blocked.locator(".reason")).to_have_text(
        "Waiting for the customer to pick a training date"
    )
    expect(blocked.locator(".blocked-for")).to_have_text(re.compile(r"^2\.0 days$"))
    expect(page.locator("#ageing .item").first).to_contain_text("Import Tidewater Foods' users")
    screenshot(page, "org-standup", full_page=True)

    # on the wall: large type, no chrome; on paper: black on white
    page.goto(f"/boards/{acme.board.pk}/standup/?wall=1")
    expect(page.locator(".topbar")).to_be_hidden()
    screenshot(page, "org-standup-wall")
    page.goto(f"/boards/{acme.board.pk}/standup/")
    page.emulate_media(media="print")
    expect(page.locator(".standup-tools")).to_be_hidden()
    assert page.locator("#blocked").evaluate("e => getComputedStyle(e).breakBefore") == "page"
    screenshot(page, "org-standup-print", full_page=True)


def test_search_from_the_header_finds_a_card_by_a_comment_and_the_activity_feed_reads_well(
    org, open_page, screenshot
):
    acme = org.acme
    page = open_page(acme.bob, "/")

    # the comment on Vantage Motors' training card: "Asked for two dates next week."
    page.get_by_role("searchbox", name="Search every board of Acme").fill("dates next week")
    page.keyboard.press("Enter")
    page.wait_for_url("**/o/acme/search/?q=dates+next+week")
    hit = page.locator(f'.hit[data-card-id="{acme.cards["doing2"].pk}"]')
    expect(hit.locator(".hit-comment")).to_contain_text("Asked for two dates next week.")
    expect(hit.locator(".hit-comment mark").first).to_have_text("dates")
    screenshot(page, "org-search")
    hit.get_by_role("link", name="Train Vantage Motors' team leads").click()
    page.wait_for_url(f"**/boards/{acme.board.pk}/#card-{acme.cards['doing2'].pk}")
    expect(page.locator("#card-dialog")).to_be_visible()

    # the organisation's activity: who did what, newest first
    page.goto("/o/acme/activity/")
    first = page.locator(".feed-item").first
    expect(first).to_contain_text("Frank Moreau blocked")
    expect(first.locator(".feed-where")).to_contain_text("IT operations")
    screenshot(page, "org-activity")

    # a phone: the global board scrolls sideways, the overview drops its extras
    phone = open_page(acme.alice, "/o/acme/board/", viewport=PHONE)
    expect(phone.locator(".global-lane")).to_have_count(3)
    expect(phone.locator(".live-indicator")).to_have_text("Live")
    screenshot(phone, "org-global-board-phone")
    phone.goto("/o/acme/")
    screenshot(phone, "org-overview-phone")
