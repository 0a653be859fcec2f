"""The forecast page in Chromium: a forecast asked and answered through the API, its backtest,
a refused question, the service levels; and the SLE badges on the board."""

import re

import pytest
from playwright.sync_api import expect

from boards import services
from boards.models import ClassOfService
from tests.browser.conftest import PHONE

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_forecast_page_answers_when_and_how_many_and_backtests(acme, open_page, screenshot):
    page = open_page(acme.bob, f"/boards/{acme.board.pk}/forecast/")
    expect(page.locator("h1")).to_have_text("Forecasts and service levels")

    # when: bob asks when 3 cards will be done
    page.locator("#fc-when").fill("3")
    page.locator("#fc-run").click()

    # then: the 85 % answer as a sentence, four confidences, and what was sampled
    expect(page.locator("#fc-result")).to_be_visible()
    expect(page.locator("#fc-headline")).to_have_text(
        re.compile(r"^3 cards done by \d{4}-\d\d-\d\d with 85% confidence\.$")
    )
    expect(page.locator("#fc-levels tr")).to_have_count(4)
    expect(page.locator("#fc-levels tr.is-85")).to_contain_text("85 %")
    expect(page.locator("#fc-history")).to_contain_text("days sampled")
    assert page.locator("#fc-histogram .fc-bar").count() >= 2  # zero days and busy days
    dates = page.locator("#fc-levels tr td:nth-child(2)").all_inner_texts()
    assert dates == sorted(dates)  # more confidence, a later date

    # and: how many by a date (the default two weeks ahead)
    page.locator("input[name=question][value=how_many_by]").check()
    page.locator("#fc-run").click()
    expect(page.locator("#fc-headline")).to_have_text(
        re.compile(r"^At least \d+ cards? by \d{4}-\d\d-\d\d with 85% confidence\.$")
    )
    screenshot(page, "forecast-how-many")

    # when: the backtest runs
    page.locator("#bt-horizon").fill("7")
    page.locator("#bt-run").click()
    expect(page.locator("#bt-levels li")).to_have_count(4)
    expect(page.locator('#bt-levels li[data-confidence="85"]')).to_have_text(
        re.compile(r"^85% forecasts held \d+% of the time over \d+ backtests\.$")
    )
    expect(page.locator("#bt-horizon-echo")).to_have_text("7")

    # and: the service levels of every class, and blocked time by cause
    expect(page.locator("#sle-table tbody tr")).to_have_count(4)
    expect(page.locator("#blocker-table tbody tr").first).to_be_visible()
    screenshot(page, "forecast-page", full_page=True)

    # when: a question the API refuses, the page says why and keeps the last answer
    page.locator("#fc-when").fill("0")
    page.locator("#fc-run").click()
    expect(page.locator("#fc-error")).to_contain_text("when:")
    expect(page.locator("#fc-result")).to_be_visible()


def test_cards_past_their_sle_are_badged_on_the_board(acme, open_page, screenshot):
    # given: standard work promises half a day, so every started standard card is late
    services.set_service_level(
        acme.board, class_of_service=ClassOfService.STANDARD, sle_days=0.5, actor=acme.alice
    )
    page = open_page(acme.bob, f"/boards/{acme.board.pk}/")
    badges = page.locator('.card .sle[data-sle="breached"]')
    expect(badges.first).to_be_visible()
    expect(badges.first).to_have_text("SLE breached")
    screenshot(page, "board-sle-badges")

    page.goto(f"/boards/{acme.board.pk}/forecast/")
    expect(page.locator("#sle-risks li").first).to_contain_text("SLE breached")
    expect(page.locator('#sle-table tr[data-class-of-service="standard"]')).to_contain_text("set")


def test_a_class_of_service_is_set_up_in_the_board_settings(acme, open_page, screenshot):
    page = open_page(acme.bob, f"/boards/{acme.board.pk}/settings/#services")
    row = page.locator('#services li[data-class-of-service="expedite"]')
    row.locator("input[name=sle_days]").fill("2")
    row.locator("input[name=wip_limit]").fill("1")
    row.locator("select[name=wip_policy]").select_option("hard")
    row.get_by_role("button", name="Save").click()
    expect(page.locator(".messages")).to_contain_text("Expedite service level saved.")
    row = page.locator('#services li[data-class-of-service="expedite"]')
    expect(row.locator(".settings-meta")).to_contain_text("SLE set: 2.0 days")
    expect(row.locator(".settings-meta")).to_contain_text("of 1")
    page.locator("#services").scroll_into_view_if_needed()
    screenshot(page, "settings-classes-of-service")


def test_the_forecast_page_fits_a_phone(acme, open_page, screenshot):
    page = open_page(acme.victor, f"/boards/{acme.board.pk}/forecast/", viewport=PHONE)
    page.locator("#fc-run").click()
    expect(page.locator("#fc-levels tr")).to_have_count(4)
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"], width
    screenshot(page, "forecast-phone", full_page=True)
