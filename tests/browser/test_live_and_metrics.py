"""Live updates between two browsers, and the flow metrics page (real uvicorn, Redis, Chromium)."""

import re
import time

import pytest
from django.core.cache import cache
from django.core.management import call_command
from playwright.sync_api import expect

from boards import selectors, services
from boards.models import Board, Card
from tests.browser.conftest import PHONE
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


CHARTS = ("cfd", "lead", "throughput", "ageing", "wip")


def chart_facts(page, chart: str) -> dict:
    """What Chart.js drew on #chart-<chart>: its axes' titles, its legend's labels and the x
    axis' tick labels (None: no chart there)."""
    return page.evaluate(
        """(id) => {
            const chart = window.Chart.getChart(document.getElementById(id));
            if (!chart) return null;
            const scales = chart.options.scales;
            return {
                x: scales.x.title.display ? scales.x.title.text : "",
                y: scales.y.title.display ? scales.y.title.text : "",
                legend: chart.options.plugins.legend.display === false ? [] :
                    chart.legend.legendItems.map((item) => item.text),
                ticks: chart.scales.x.ticks.map((t) => String(t.label)),
            };
        }""",
        f"chart-{chart}",
    )


def test_every_chart_names_its_axes_with_units_and_its_colours_in_a_legend(
    acme, open_page, screenshot
):
    page = open_page(acme.alice, f"/boards/{acme.board.pk}/metrics/")
    page.wait_for_function("() => document.querySelector('.metrics').dataset.rendered === 'true'")
    facts = {chart: chart_facts(page, chart) for chart in CHARTS}
    assert facts["cfd"]["y"].startswith("cards") and facts["cfd"]["x"] == "day"
    assert facts["lead"]["y"] == "lead time (days)"
    assert facts["throughput"]["y"] == "cards finished"
    assert facts["throughput"]["x"] == "week starting Monday"
    assert facts["ageing"]["y"] == "age (days)"
    assert facts["wip"]["y"] == "cards"
    # a legend entry for every colour: each column of the CFD, blocked and not on the ageing chart
    assert set(facts["cfd"]["legend"]) == {"Backlog", "Ready", "Doing", "Review", "Done"}
    assert {"a card in progress", "a blocked card"} <= set(facts["ageing"]["legend"])
    assert {"cards (within the limit)", "cards (over the limit)", "WIP limit"} <= set(
        facts["wip"]["legend"]
    )
    assert "a finished card" in facts["lead"]["legend"]
    # dates carry their year
    for chart in ("cfd", "lead", "throughput"):
        assert facts[chart]["ticks"], chart
        assert all(re.search(r"\b20\d\d\b", t) for t in facts[chart]["ticks"]), facts[chart]
    # the ageing line is the board's one threshold, the board page's "ageing after"
    threshold = selectors.typical_cycle_time_days(acme.board.pk)
    assert any(f"ageing after {threshold:.1f} days" in label for label in facts["ageing"]["legend"])
    page.goto(f"/boards/{acme.board.pk}/")
    expect(page.locator(".board-bar .legend")).to_contain_text(f"ageing after {threshold:.1f} d")
    page.goto(f"/boards/{acme.board.pk}/metrics/")
    page.wait_for_function("() => document.querySelector('.metrics').dataset.rendered === 'true'")
    screenshot(page, "metrics-readable", full_page=True)
    phone = open_page(acme.alice, f"/boards/{acme.board.pk}/metrics/", viewport=PHONE)
    phone.wait_for_function("() => document.querySelector('.metrics').dataset.rendered === 'true'")
    assert phone.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(phone, "metrics-readable-phone", full_page=True)


def test_a_new_board_says_there_is_not_enough_data_yet_instead_of_empty_charts(
    acme, open_page, screenshot
):
    board = services.create_board(team=acme.board.team, name="Brand new", actor=acme.alice)
    page = open_page(acme.alice, f"/boards/{board.pk}/metrics/")
    page.wait_for_function("() => document.querySelector('.metrics').dataset.rendered === 'true'")
    for chart in ("cfd", "lead", "throughput", "ageing"):
        figure = page.locator(f".chart:has(#chart-{chart})")
        expect(figure.locator(".no-data")).to_be_visible()
        expect(page.locator(f"#chart-{chart}")).to_be_hidden()
        assert chart_facts(page, chart) is None
    expect(page.locator(".chart:has(#chart-lead) .no-data")).to_have_text(
        re.compile(r"^Not enough data yet — finish a few cards")
    )
    # the columns' WIP (all zero) is still a true picture
    assert chart_facts(page, "wip")["legend"]
    screenshot(page, "metrics-new-board", full_page=True)
