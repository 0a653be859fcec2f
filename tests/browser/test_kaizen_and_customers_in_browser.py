"""Improvements and the customer view in a real browser, against the app under uvicorn: a
team member writes an improvement down, starts it three weeks back and reviews it on the page;
the metrics page draws its start marker; the customer pages list Acme's customers and one
customer's work across two boards, and fit a 390 px phone. Screenshots go to
artifacts/screenshots/ (kaizen-*.png, customers-*.png)."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from boards import services
from boards.models import Improvement, ImprovementStatus
from tests.browser.conftest import PHONE

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_improvement_is_written_down_started_and_reviewed_on_the_page(
    acme, open_page, screenshot
):
    today = timezone.now().date()
    page = open_page(acme.bob, f"/boards/{acme.board.pk}/improvements/")
    expect(page.get_by_text("No improvements on this board yet.")).to_be_visible()

    page.get_by_label("Title").fill("WIP limit of 3 on Doing")
    page.get_by_label("Hypothesis").fill("Fewer cards in progress will finish sooner")
    page.get_by_label("Target metric").select_option("lead_time")
    page.get_by_label("Baseline weeks").fill("4")
    page.get_by_label("Scope").select_option("standard")
    page.get_by_role("button", name="Write it down").click()
    expect(page.get_by_role("alert")).to_contain_text("is written down")
    improvement = Improvement.objects.get()
    assert improvement.status == ImprovementStatus.DRAFT and improvement.baseline_weeks == 4
    assert improvement.scope_class_of_service == "standard"

    section = page.locator(f'[data-improvement-id="{improvement.pk}"]')
    expect(section.locator(".scope")).to_have_text("standard work only")
    section.get_by_label("Start on").fill((today - timedelta(days=21)).isoformat())
    section.get_by_role("button", name="Start and capture the baseline").click()
    expect(page.get_by_role("alert")).to_contain_text("its baseline is captured")
    expect(section).to_have_attribute("data-status", "running")
    expect(section.locator("table.before-after")).to_contain_text("Lead time p85")

    section.get_by_role("button", name="Review now").click()
    expect(page.get_by_role("alert")).to_contain_text("reviewed")
    verdict = section.locator(".verdict")
    expect(verdict).to_contain_text("Interim look (3 weeks so far).")
    expect(verdict).to_contain_text("lead time")
    improvement.refresh_from_db()
    assert improvement.result is not None and len(improvement.result["weeks"]) == 3
    # The verdict on the page is the stored one, in words.
    expect(verdict).to_contain_text(improvement.result["verdict"])
    # The XmR chart of lead time is drawn: 4 baseline weeks and 3 after, with the limits.
    expect(section.locator("figure.xmr")).to_have_attribute("data-rendered", "true")
    screenshot(page, "kaizen-improvements", full_page=True)

    # A refused start (the review on a day before the start's first week ends) reads as a sentence.
    draft = Improvement.objects.create(
        board=acme.board,
        title="Too short",
        target_metric="throughput",
        review_on=today,
        created_by=acme.bob,
    )
    page.reload()
    other = page.locator(f'[data-improvement-id="{draft.pk}"]')
    other.get_by_role("button", name="Start and capture the baseline").click()
    expect(page.get_by_role("alert")).to_contain_text("at least a week after the start")
    draft.refresh_from_db()
    assert draft.status == ImprovementStatus.DRAFT

    phone = open_page(acme.bob, f"/boards/{acme.board.pk}/improvements/", viewport=PHONE)
    width = phone.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the improvements page is {width} px wide on a phone"
    screenshot(phone, "kaizen-improvements-phone", full_page=True)

    # The metrics page marks the start on its time charts.
    metrics = open_page(acme.victor, f"/boards/{acme.board.pk}/metrics/")
    expect(metrics.locator(".metrics")).to_have_attribute("data-rendered", "true")
    expect(metrics.locator(".metrics")).to_have_attribute("data-markers", "1")
    screenshot(metrics, "kaizen-metrics-marker", full_page=True)


def test_the_improvements_page_says_when_someone_else_starts_an_improvement(
    acme, open_page, screenshot
):
    from boards.kaizen import services as kaizen

    improvement = kaizen.create_improvement(
        acme.board,
        title="Swarm on expedite work",
        target_metric="lead_time",
        review_on=timezone.now().date() + timedelta(weeks=3),
        scope_class_of_service="expedite",
        actor=acme.bob,
    )
    page = open_page(acme.victor, f"/boards/{acme.board.pk}/improvements/")
    root = page.locator(".kaizen-page")
    expect(root).to_have_attribute("data-live", "live")
    notice = page.locator("#kaizen-live")
    expect(notice).to_be_empty()

    kaizen.start_improvement(improvement, actor=acme.bob)  # committed: published to the page

    expect(notice).to_have_text(
        f"{acme.bob.display_name} started “Swarm on expedite work”. Reload the page to see it."
    )
    expect(root).to_have_attribute("data-live-events", "1")
    screenshot(page, "kaizen-improvements-live")
    notice.get_by_role("link", name="Reload the page").click()
    section = page.locator(f'[data-improvement-id="{improvement.pk}"]')
    expect(section).to_have_attribute("data-status", "running")
    expect(notice).to_be_empty()


def test_the_customer_pages_show_a_customers_work_across_boards(acme, open_page, screenshot):
    it_ready = acme.it_board.columns.get(name="Ready")
    services.create_card(
        acme.it_board,
        title="VPN for Tidewater Foods' auditors",
        column=it_ready,
        customer="Tidewater Foods",
        actor=acme.frank,
    )
    page = open_page(acme.victor, "/o/acme/customers/")
    expect(page.locator('.org-tabs a[aria-current="page"]')).to_have_text("Customers")
    row = page.locator('tr[data-customer="Tidewater Foods"]')
    expect(row.locator("td")).to_have_text(["Tidewater Foods", "2", "0", "0", "2"])
    screenshot(page, "customers-list", full_page=True)

    row.get_by_role("link", name="Tidewater Foods").click()
    expect(page.get_by_role("heading", name="Tidewater Foods", level=2)).to_be_visible()
    boards = page.locator(".customer-board")
    expect(boards).to_have_count(2)
    expect(boards.nth(0)).to_contain_text("Customer onboarding")
    expect(boards.nth(1)).to_contain_text("IT operations")
    expect(boards.nth(0).locator('[data-stage="active"]')).to_contain_text(
        "Import Tidewater Foods' users"
    )
    screenshot(page, "customers-one", full_page=True)

    # A finished customer shows its lead time; a blocked card its flag.
    page.goto("/o/acme/customers/Vantage%20Motors/")
    expect(page.locator('[data-blocked="true"] .flag.blocked')).to_have_text("Blocked")

    phone = open_page(acme.victor, "/o/acme/customers/", viewport=PHONE)
    width = phone.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the customers page is {width} px wide on a phone"
    tabs = phone.locator(".org-tabs")
    assert tabs.evaluate("(el) => el.scrollWidth <= el.clientWidth + 1")
    screenshot(phone, "customers-phone", full_page=True)
    phone.goto("/o/acme/customers/Tidewater%20Foods/")
    width = phone.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"a customer's page is {width} px wide on a phone"
    screenshot(phone, "customers-one-phone", full_page=True)
