"""The board as people look at it, in a real browser: on a phone it opens on cards, on a wall
screen it follows moves live in large type, its header keeps its size once the scripts and the
websocket have run, and a filter that matches nothing says so. Screenshots:
artifacts/screenshots/board-view-*.png."""

import json
import urllib.request

import pytest
from playwright.sync_api import Page, expect

from accounts import services as accounts_services
from boards import services
from boards.models import Card
from tests.browser.conftest import PHONE, WIDE
from tests.browser.test_board_in_browser import board_url, card_on, cell

pytestmark = pytest.mark.django_db(transaction=True)


def wait_live(page: Page) -> None:
    page.wait_for_function("() => window.obeyaLive && window.obeyaLive.state === 'live'")


def on_screen(page: Page, locator) -> bool:
    """The element's box overlaps both the window and the board's scrolling area."""
    return locator.evaluate(
        """(el) => {
            const r = el.getBoundingClientRect();
            const s = document.querySelector('.board-scroll').getBoundingClientRect();
            const heads = document.querySelector('.column-heads').getBoundingClientRect();
            return r.width > 0 && r.left < Math.min(s.right, innerWidth) && r.right > s.left
                && r.top < Math.min(s.bottom, innerHeight) && r.bottom > heads.bottom;
        }"""
    )


def test_on_a_phone_the_board_opens_on_the_first_column_that_has_cards(acme, open_page, screenshot):
    # given: a board whose work all sits in Review, the fourth column: a phone shows one column
    board = services.create_board(team=acme.board.team, name="Late work", actor=acme.alice)
    columns = {c.name: c for c in board.columns.all()}
    cards = [
        services.create_card(
            board, title=f"Waiting for review {i}", column=columns["Review"], actor=acme.alice
        )
        for i in range(2)
    ]

    # when
    page = open_page(acme.bob, f"/boards/{board.pk}/", viewport=PHONE)

    # then: the first card is on the screen, and the board did not open on empty Backlog
    first = page.locator(f'.card[data-card-id="{cards[0].pk}"]')
    expect(first).to_be_visible()
    page.wait_for_function("() => document.querySelector('.board-scroll').scrollLeft > 0")
    assert on_screen(page, first)
    screenshot(page, "board-view-phone-opens-on-cards")

    # and a board whose first column has cards stays where it is
    page = open_page(acme.bob, board_url(acme), viewport=PHONE)
    expect(page.locator(".card").first).to_be_visible()
    assert page.evaluate("() => document.querySelector('.board-scroll').scrollLeft") == 0
    assert any(on_screen(page, card) for card in page.locator(".card").all())
    screenshot(page, "board-view-phone")


@pytest.mark.parametrize("viewport", [WIDE, PHONE], ids=["desktop", "phone"])
def test_the_wall_screen_shows_a_move_made_through_the_api_without_a_reload(
    acme, open_page, live_server_url, screenshot, viewport
):
    # given: the board on a wall screen
    page = open_page(acme.alice, board_url(acme) + "?wall=1", viewport=viewport)
    wait_live(page)
    page.evaluate("() => { window.notReloaded = true; }")

    # large type, the whole window, nothing to edit with
    expect(page.locator(".topbar")).to_be_hidden()
    expect(page.locator("form.filters")).to_be_hidden()
    assert page.locator(".quick-add-open").count() == 0
    assert page.locator('script[src*="drag.js"]').count() == 0
    assert page.evaluate("() => getComputedStyle(document.documentElement).fontSize") == "22px"
    board_box = page.locator(".board").bounding_box()
    assert board_box["y"] == 0 and board_box["width"] == viewport["width"]
    expect(page.get_by_role("link", name="Leave wall screen")).to_be_visible()

    # when: bob moves a card from Ready to Doing through the REST API (his token)
    card = acme.cards["ready1"]
    _, token = accounts_services.create_api_token(user=acme.bob)
    request = urllib.request.Request(
        f"{live_server_url}/api/v1/cards/{card.pk}/move/",
        method="POST",
        data=json.dumps({"column": acme.columns["Doing"].pk}).encode(),
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200

    # then: the wall shows it in Doing, on the same page
    expect(cell(page, acme, "Doing").locator(f'.card[data-card-id="{card.pk}"]')).to_have_count(
        1, timeout=5000
    )
    assert page.evaluate("() => window.notReloaded") is True
    screenshot(page, f"board-view-wall-{'phone' if viewport is PHONE else 'desktop'}")


# Boxes of the header's parts, and of the board below it, as the page has them now.
BOXES = """() => Object.fromEntries(['.topbar', '.board-bar', '.board-bar h1', '.filters',
    '.board-scroll'].map((s) => { const r = document.querySelector(s).getBoundingClientRect();
    return [s, [r.x, r.y, r.width, r.height].map(Math.round)]; }))"""

RECORD_AT_DOM_CONTENT_LOADED = f"""
document.addEventListener("DOMContentLoaded", () => {{ window.boxesAtLoad = ({BOXES})(); }});
"""


@pytest.mark.parametrize("viewport", [WIDE, PHONE], ids=["desktop", "phone"])
def test_the_header_keeps_its_size_after_the_scripts_and_the_websocket_have_run(
    acme, open_page, viewport
):
    # given: the board has an open alert (Ready is over a soft limit), so the banner has
    # something to show, and someone else is watching (the presence count)
    services.update_column(acme.columns["Ready"], wip_limit=2, actor=acme.alice)
    other = open_page(acme.carol, board_url(acme))
    wait_live(other)

    # when: the board opens and settles
    page = open_page(acme.bob, "/", viewport=viewport)
    page.context.add_init_script(RECORD_AT_DOM_CONTENT_LOADED)
    page.goto(board_url(acme))
    wait_live(page)
    expect(page.locator(".live-indicator")).to_contain_text("viewing")
    expect(page.locator(".alerts-banner .alert")).to_have_count(1)
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(500)

    # then: nothing in or below the header moved or changed size
    assert page.evaluate("() => window.boxesAtLoad") == page.evaluate(BOXES)


def test_a_filter_that_matches_no_card_says_so_and_clears_in_one_click(acme, open_page, screenshot):
    total = Card.objects.filter(board=acme.board, archived=False).count()
    page = open_page(acme.alice, board_url(acme))
    empty = page.locator("#filter-empty")
    expect(empty).to_be_hidden()

    page.get_by_label("Filter cards by text").fill("xyzzy")
    expect(empty).to_be_visible()
    expect(empty).to_have_text("No cards match “xyzzy” — clear filter")
    expect(page.locator("#filter-count")).to_have_text(f"0 of {total} cards")
    screenshot(page, "board-view-no-match")

    # a filter with a result hides the message again
    page.get_by_label("Filter cards by text").fill("Tidewater")
    expect(empty).to_be_hidden()
    expect(card_on(page, acme.cards["doing1"])).to_be_visible()

    # the server renders the same message for a shared link, with the other filters named
    page.goto(board_url(acme) + "?q=xyzzy&blocked=true")
    expect(empty).to_be_visible()
    expect(empty).to_contain_text("No cards match “xyzzy”")
    empty.get_by_role("link", name="clear filter").click()
    expect(empty).to_be_hidden()
    expect(page.locator(".card:not([hidden])")).to_have_count(total)
    assert page.get_by_label("Filter cards by text").input_value() == ""
    phone = open_page(acme.alice, board_url(acme) + "?q=xyzzy", viewport=PHONE)
    expect(phone.locator("#filter-empty")).to_be_visible()
    screenshot(phone, "board-view-no-match-phone")


def test_the_wall_standup_renders_again_when_the_board_changes(acme, open_page, screenshot):
    # given: the stand-up on a wall screen, with no timed refresh in its head
    page = open_page(acme.alice, f"/boards/{acme.board.pk}/standup/?wall=1")
    assert page.locator("meta[http-equiv]").count() == 0
    page.evaluate("() => { window.notReloaded = true; }")
    page.wait_for_timeout(500)  # the websocket opens
    blocked = page.locator("#blocked .item")
    expect(blocked).to_have_count(1)

    # when: someone blocks a card
    card = Card.objects.select_related("board").get(pk=acme.cards["doing1"].pk)
    services.block_card(card, reason="Waiting for the customer's CSV", actor=acme.carol)

    # then: the wall renders again and shows it
    expect(blocked).to_have_count(2, timeout=10_000)
    assert page.evaluate("() => window.notReloaded") is None
    screenshot(page, "board-view-standup-wall")
