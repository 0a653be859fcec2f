"""Live updates between two browsers, and the flow metrics page (real uvicorn, Redis, Chromium)."""

import re
import time

import pytest
from django.core.cache import cache
from django.core.management import call_command
from playwright.sync_api import expect

from boards import services
from boards.models import Board, Card
from tests.browser.test_board_in_browser import board_url, card_on, cell, drag, ids_in

pytestmark = pytest.mark.django_db(transaction=True)


def wait_live(page) -> None:
    page.wait_for_function("() => window.obeyaLive && window.obeyaLive.state === 'live'")


def server_cells(board: Board) -> dict[tuple[int, int], list[int]]:
    cells: dict[tuple[int, int], list[int]] = {}
    for card in Card.objects.filter(board=board, archived=False).order_by("rank"):
        cells.setdefault((card.column_id, card.swimlane_id), []).append(card.pk)
    return cells


def page_cells(page) -> dict[tuple[int, int], list[int]]:
    found = page.evaluate(
        """() => Array.from(document.querySelectorAll('.cell')).map((c) => [
            Number(c.dataset.columnId), Number(c.dataset.swimlaneId),
            Array.from(c.querySelectorAll('.card')).map((k) => Number(k.dataset.cardId))])"""
    )
    return {(column, lane): ids for column, lane, ids in found if ids}


def test_a_move_by_alice_appears_on_bobs_board_within_a_second_and_survives_his_outage(
    acme, open_page, screenshot
):
    # given: alice and bob have the same board open, both live
    alice = open_page(acme.alice, board_url(acme))
    bob = open_page(acme.bob, board_url(acme))
    wait_live(alice)
    wait_live(bob)
    card = acme.cards["ready1"]
    doing = acme.columns["Doing"].pk

    # when: alice drags a card from Ready to Doing
    with alice.expect_response(lambda r: r.url.endswith(f"/cards/{card.pk}/move/")) as move:
        drag(alice, card_on(alice, card), cell(alice, acme, "Doing").locator(".card").first)
    assert move.value.status == 200
    moved_at = time.monotonic()

    # then: bob's page shows it in Doing within a second, without a reload
    expect(cell(bob, acme, "Doing").locator(f'.card[data-card-id="{card.pk}"]')).to_be_visible(
        timeout=1000
    )
    assert time.monotonic() - moved_at < 1.0
    assert ids_in(cell(bob, acme, "Doing")) == ids_in(cell(alice, acme, "Doing"))
    expect(bob.locator(".live-indicator")).to_contain_text("2 viewing")
    screenshot(bob, "live-bob-sees-alices-move")

    # when: bob's connection drops while alice moves two more cards
    bob.context.set_offline(True)
    ready = acme.columns["Ready"]
    for key in ("backlog1", "backlog2"):
        moving = Card.objects.select_related("board").get(pk=acme.cards[key].pk)
        services.move_card(moving, to_column=ready, position=0, actor=acme.alice)
    bob.wait_for_timeout(500)
    bob.context.set_offline(False)

    # then: bob's board catches up and matches the server exactly
    deadline = time.monotonic() + 20
    while page_cells(bob) != server_cells(acme.board) and time.monotonic() < deadline:
        bob.wait_for_timeout(200)
    assert page_cells(bob) == server_cells(acme.board)
    assert ids_in(cell(bob, acme, "Ready"))[:2] == [
        acme.cards["backlog2"].pk,
        acme.cards["backlog1"].pk,
    ]
    assert doing in {column for column, _ in page_cells(bob)}


def test_an_alert_appears_live_in_the_banner(acme, open_page):
    page = open_page(acme.bob, board_url(acme))
    wait_live(page)
    ready = acme.columns["Ready"]
    services.update_column(ready, wip_limit=2, actor=acme.alice)  # soft: 3 cards are over it
    expect(page.locator(".alerts-banner .alert")).to_contain_text(
        "over its WIP limit", timeout=10_000
    )


def test_the_metrics_page_draws_every_chart_and_refreshes_on_a_new_snapshot(
    acme, open_page, screenshot
):
    page = open_page(acme.alice, f"/boards/{acme.board.pk}/metrics/")
    page.wait_for_function("() => document.querySelector('.metrics').dataset.rendered === 'true'")
    for chart in ("cfd", "lead", "throughput", "ageing", "wip"):
        assert page.locator(f"#chart-{chart}").bounding_box()["height"] > 100
    expect(page.locator("#kpi-lead")).to_have_text(re.compile(r"^\d+\.\d$"))
    page.wait_for_timeout(300)  # the websocket opens
    cache.clear()  # an earlier test's change to this board may still hold the debounce
    card = Card.objects.select_related("board").get(pk=acme.cards["review1"].pk)
    services.move_card(card, to_column=acme.columns["Done"], actor=acme.alice)
    page.wait_for_function(
        "() => Number(document.querySelector('.metrics').dataset.refreshed) >= 1", timeout=15_000
    )
    screenshot(page, "metrics-acme")


@pytest.mark.django_db(transaction=True)
def test_the_metrics_page_of_the_demos_product_board(open_page, screenshot):
    call_command("load_demo", verbosity=0)
    board = Board.objects.get(organization__slug="acme", name="Product delivery")
    from accounts.models import User

    page = open_page(User.objects.get(username="alice"), f"/boards/{board.pk}/metrics/")
    page.wait_for_function("() => document.querySelector('.metrics').dataset.rendered === 'true'")
    assert int(page.locator("#kpi-throughput").inner_text()) > 10
    screenshot(page, "metrics-product-board", full_page=True)
    page.goto(f"/boards/{board.pk}/")
    screenshot(page, "demo-product-board")
