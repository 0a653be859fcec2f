"""The team board in a real browser: drag and drop, refused moves, filters, read-only boards,
the card dialog, keyboard moves and quick-add, against the app under uvicorn."""

import re
import time

import pytest
from playwright.sync_api import Page, expect

from boards.models import Card, Comment
from tests.browser.conftest import PHONE, Acme
from tests.factories import position_of

pytestmark = pytest.mark.django_db(transaction=True)


def board_url(acme: Acme) -> str:
    return f"/boards/{acme.board.pk}/"


def cell(page: Page, acme: Acme, column: str, lane: str = "Standard"):
    return page.locator(
        f'.cell[data-column-id="{acme.columns[column].pk}"]'
        f'[data-swimlane-id="{acme.lanes[lane].pk}"]'
    )


def card_on(page: Page, card: Card):
    return page.locator(f'.card[data-card-id="{card.pk}"]')


def ids_in(cell_locator) -> list[int]:
    return [
        int(i)
        for i in cell_locator.locator(".card").evaluate_all("e => e.map(c => c.dataset.cardId)")
    ]


def eventually(check, *, timeout: float = 10.0):
    """Wait until check() passes (it raises AssertionError until then)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def drag(page: Page, source, target, *, at: float = 0.3) -> None:
    """Drag `source` with the mouse and drop it on `target`, `at` of the way down its height,
    moving in small steps and pausing over the target, as a hand does."""
    s = source.bounding_box()
    t = target.bounding_box()
    x0, y0 = s["x"] + s["width"] / 2, s["y"] + s["height"] / 2
    x1, y1 = t["x"] + t["width"] / 2, t["y"] + t["height"] * at
    page.mouse.move(x0, y0)
    page.mouse.down()
    steps = 16
    for i in range(1, steps + 1):
        page.mouse.move(x0 + (x1 - x0) * i / steps, y0 + (y1 - y0) * i / steps)
        page.wait_for_timeout(15)
    page.wait_for_timeout(150)
    page.mouse.move(x1, y1 + 2)
    page.wait_for_timeout(150)
    page.mouse.up()


def test_alice_logs_in_drags_a_card_from_ready_to_doing_and_it_stays_there_after_reload(
    acme, open_page, screenshot
):
    # given: alice logs in through the login page, on her way to the board
    page = open_page(None, f"/accounts/login/?next={board_url(acme)}")
    screenshot(page, "login")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("demo")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"**{board_url(acme)}")
    card = acme.cards["ready1"]
    doing = cell(page, acme, "Doing")
    assert len(ids_in(doing)) == 2

    # when: she drags a Ready card onto the top part of Doing's first card
    with page.expect_response(lambda r: r.url.endswith(f"/cards/{card.pk}/move/")) as move:
        drag(page, card_on(page, card), doing.locator(".card").first)

    # then: the server accepted it where it was dropped: between Doing's cards
    assert move.value.status == 200, move.value.text()
    dropped = ids_in(doing)
    assert card.pk in dropped and dropped.index(card.pk) < len(dropped) - 1
    head = page.locator(f'.column-head[data-column-id="{acme.columns["Doing"].pk}"]')
    expect(head.locator(".wip")).to_have_text("WIP 4 / 4")
    expect(head).to_have_class("column-head stage-active at-limit")
    screenshot(page, "board")

    # and a reload shows it still in Doing, at the dropped position
    page.reload()
    assert ids_in(cell(page, acme, "Doing")) == dropped
    card.refresh_from_db()
    assert (card.column_id, position_of(card)) == (acme.columns["Doing"].pk, dropped.index(card.pk))


def test_drags_reorder_a_column_and_move_cards_between_swimlanes(acme, open_page):
    page = open_page(acme.alice, board_url(acme))
    backlog = cell(page, acme, "Backlog")
    before = ids_in(backlog)
    last = acme.cards["backlog5"]

    # within a cell: the last backlog card dragged onto the top of the first
    with page.expect_response(lambda r: r.url.endswith(f"/cards/{last.pk}/move/")) as move:
        drag(page, card_on(page, last), backlog.locator(".card").first, at=0.2)
    assert move.value.status == 200
    assert ids_in(backlog) == [last.pk, *before[:-1]]

    # between swimlanes: a Ready card into the Expedite lane's Ready cell
    card = acme.cards["ready3"]
    expedite_ready = cell(page, acme, "Ready", "Expedite")
    with page.expect_response(lambda r: r.url.endswith(f"/cards/{card.pk}/move/")) as move:
        drag(page, card_on(page, card), expedite_ready, at=0.5)
    assert move.value.status == 200
    assert ids_in(expedite_ready) == [card.pk]

    page.reload()
    assert ids_in(cell(page, acme, "Backlog")) == [last.pk, *before[:-1]]
    assert ids_in(cell(page, acme, "Ready", "Expedite")) == [card.pk]
    card.refresh_from_db()
    assert card.swimlane_id == acme.lanes["Expedite"].pk


def test_a_drag_into_a_column_at_its_hard_limit_is_refused_and_the_card_goes_back(
    acme, open_page, screenshot
):
    # given: Review is full at its hard limit of 2
    page = open_page(acme.alice, board_url(acme))
    ready = cell(page, acme, "Ready")
    before = ids_in(ready)
    card = acme.cards["ready2"]

    # when: alice drags a Ready card into Review
    with page.expect_response(lambda r: r.url.endswith(f"/cards/{card.pk}/move/")) as move:
        drag(page, card_on(page, card), cell(page, acme, "Review").locator(".card").first)

    # then: the server refused it, the card is back where it was and the page says why
    assert move.value.status == 409, move.value.text()
    eventually(lambda: _assert_equal(ids_in(ready), before))
    message = page.locator("#board-message")
    expect(message).to_be_visible()
    expect(message).to_contain_text("was not moved")
    expect(message).to_contain_text("Review is at its hard WIP limit (2/2)")
    # an owner may pass the limit with a reason, which the history keeps
    expect(message.get_by_label("Pass the limit anyway, because")).to_be_visible()
    screenshot(page, "refused-move")
    assert ids_in(cell(page, acme, "Review")) == [
        acme.cards["review1"].pk,
        acme.cards["review2"].pk,
    ]
    card.refresh_from_db()
    assert card.column_id == acme.columns["Ready"].pk


def _assert_equal(actual, expected):
    assert actual == expected


def test_filters_narrow_the_cards_and_live_in_the_url(acme, open_page):
    page = open_page(acme.alice, board_url(acme))
    shown = page.locator(".card:visible")
    total = Card.objects.filter(board=acme.board, archived=False).count()
    expect(shown).to_have_count(total)

    # text
    page.get_by_label("Filter cards by text").fill("onboard")
    expected = [
        c.pk
        for c in Card.objects.filter(board=acme.board, archived=False)
        if "onboard" in f"{c.title} {c.customer}".lower()
    ]
    expect(shown).to_have_count(len(expected))
    assert sorted(int(i) for i in shown.evaluate_all("e => e.map(c => c.dataset.cardId)")) == (
        sorted(expected)
    )
    expect(page.locator("#filter-count")).to_have_text(f"{len(expected)} of {total} cards")
    assert "q=onboard" in page.url

    # the URL is the view: opened elsewhere, it shows the same cards
    shared = page.url
    other = open_page(acme.bob, shared)
    expect(other.get_by_label("Filter cards by text")).to_have_value("onboard")
    expect(other.locator(".card:visible")).to_have_count(len(expected))

    # blocked only
    page.get_by_role("link", name="Clear filters").click()
    expect(shown).to_have_count(total)
    page.locator("#filter-blocked").check()
    expect(shown).to_have_count(1)
    expect(shown).to_contain_text("Train Vantage Motors' team leads")
    assert "blocked=true" in page.url

    # only mine, then a label
    page.locator("#filter-blocked").uncheck()
    page.get_by_label("Only mine").check()
    expect(shown).to_have_count(1)
    expect(shown).to_contain_text("Onboard Cobalt Mining")
    assert f"assignee={acme.alice.pk}" in page.url
    page.get_by_label("Only mine").uncheck()
    page.get_by_label("Label").select_option(label="training")
    expect(shown).to_have_count(3)
    assert f"label={acme.labels['training'].pk}" in page.url
    assert "assignee" not in page.url


def test_bob_sees_the_it_board_read_only(acme, open_page, screenshot):
    # given: bob is in Sales, not IT
    page = open_page(acme.bob, f"/boards/{acme.it_board.pk}/")
    expect(page.locator(".pill.readonly")).to_have_text("Read-only")
    assert page.locator(".quick-add-open").count() == 0
    assert page.locator(".board.can-drag").count() == 0
    assert page.evaluate("typeof window.Sortable") == "undefined"
    writes = []
    page.on("request", lambda r: writes.append(r.url) if r.method != "GET" else None)
    card = acme.cards["Laptop for new hire Jonas"]
    home = page.locator(f'.cell:has(.card[data-card-id="{card.pk}"])')
    column_id = home.get_attribute("data-column-id")

    # when: he tries to drag a card to another column
    target = page.locator(f'.cell[data-column-id]:not([data-column-id="{column_id}"])').nth(2)
    drag(page, card_on(page, card), target)

    # then: nothing moves and nothing is sent
    page.wait_for_timeout(300)
    assert writes == []
    assert (
        card_on(page, card)
        .locator("xpath=ancestor::div[@data-column-id]")
        .get_attribute("data-column-id")
        == column_id
    )

    # and the card opens view-only: no field, no block, no comment form
    card_on(page, card).click()
    dialog = page.locator("#card-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("[data-field=title]")).to_have_text(card.title)
    assert dialog.locator("input, textarea, select, button[type=submit]").count() == 0
    screenshot(page, "read-only-dialog")

    # while on his own team's board he has the controls
    page.goto(board_url(acme))
    assert page.locator(".quick-add-open").count() > 0
    expect(page.locator(".board.can-drag")).to_have_count(1)


def test_a_viewer_reads_the_board_its_policies_and_folds_a_lane(acme, open_page):
    page = open_page(acme.victor, board_url(acme))
    expect(page.locator(".pill.readonly")).to_be_visible()
    assert page.locator(".quick-add-open").count() == 0

    # a column's policy is one click away
    doing = page.locator(f'.column-head[data-column-id="{acme.columns["Doing"].pk}"]')
    policy = doing.locator(".policy .popover")
    expect(policy).to_be_hidden()
    doing.get_by_text("Policy").click()
    expect(policy).to_be_visible()
    expect(policy).to_contain_text("Entry: an owner is assigned.")
    page.keyboard.press("Escape")
    expect(policy).to_be_hidden()

    # a swimlane folds, and stays folded on the next visit
    lane = page.locator(f'.lane[data-swimlane-id="{acme.lanes["Expedite"].pk}"]')
    lane.get_by_role("button", name="Expedite").click()
    expect(lane.locator(".lane-cells")).to_be_hidden()
    expect(lane.get_by_role("button", name="Expedite")).to_have_attribute("aria-expanded", "false")
    page.reload()
    expect(lane.locator(".lane-cells")).to_be_hidden()

    # the card dialog is view-only
    card_on(page, acme.cards["doing1"]).click()
    expect(page.locator("#card-dialog")).to_be_visible()
    assert page.locator("#dlg-edit, #dlg-block, #dlg-comment").count() == 0


def test_the_card_dialog_edits_comments_blocks_and_shows_the_history(acme, open_page, screenshot):
    page = open_page(acme.alice, board_url(acme))
    card = acme.cards["doing1"]
    card_on(page, card).click()
    dialog = page.locator("#card-dialog")
    expect(dialog).to_be_visible()

    # the description is rendered markdown; the history is a timeline of moves
    expect(dialog.locator("#dlg-desc-view strong")).to_have_text("3,400 users")
    expect(dialog.locator("#dlg-desc-view li")).to_have_count(2)
    timeline = dialog.locator("#dlg-history li")
    expect(timeline).to_have_count(3)
    expect(timeline.nth(0)).to_contain_text("Created in Backlog")
    expect(timeline.nth(2)).to_contain_text("Ready → Doing")

    # edit: title, description, a label, the value, the class of service and a due date
    dialog.get_by_label("Title").fill("Import Tidewater Foods' 3,400 users")
    dialog.get_by_role("button", name="Edit description").click()
    dialog.get_by_role("textbox", name="Description").fill(
        "Import **now**.\n\n<script>window.pwned = 1</script>"
    )
    dialog.get_by_role("checkbox", name="enterprise").check()
    dialog.get_by_label(re.compile(r"^Value")).fill("66")
    dialog.get_by_label("Class of service").select_option(label="Fixed date")
    dialog.get_by_label("Due date").fill("2030-03-14")
    with page.expect_response(lambda r: r.request.method == "PATCH") as saved:
        dialog.get_by_role("button", name="Save changes").click()
    assert saved.value.status == 200
    expect(dialog.locator("#dlg-status")).to_have_text("Saved.")
    # the description is shown rendered and sanitised
    expect(dialog.locator("#dlg-desc-view strong")).to_have_text("now")
    assert dialog.locator("#dlg-desc-view script").count() == 0
    assert page.evaluate("window.pwned") is None
    # and the card on the board follows
    on_board = card_on(page, card)
    expect(on_board.locator(".card-title")).to_have_text("Import Tidewater Foods' 3,400 users")
    expect(on_board.locator(".label")).to_have_count(2)
    expect(on_board.locator(".cos")).to_have_text("Fixed date")
    expect(on_board.locator(".due")).to_have_text("14 Mar")

    # comment
    dialog.get_by_label("Add a comment").fill("First batch of **500** imported.")
    dialog.get_by_role("button", name="Comment").click()
    expect(dialog.locator("#dlg-comments .comment")).to_have_count(1)
    expect(dialog.locator("#dlg-comments .comment strong").last).to_have_text("500")

    # block, with a reason: the card on the board shows it
    dialog.get_by_label("What blocks this card?").fill("Waiting for the customer's CSV export")
    dialog.get_by_role("button", name="Block", exact=True).click()
    expect(dialog.get_by_role("button", name="Unblock")).to_be_visible()
    expect(card_on(page, card).locator(".blocked-marker")).to_contain_text(
        "Waiting for the customer's CSV export"
    )
    screenshot(page, "card-dialog")

    # Escape closes it and gives the focus back to the card
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(card_on(page, card)).to_be_focused()

    card.refresh_from_db()
    assert card.title == "Import Tidewater Foods' 3,400 users"
    assert card.value == 66
    assert (card.class_of_service, str(card.due_date)) == ("fixed_date", "2030-03-14")
    assert set(card.labels.values_list("name", flat=True)) == {"migration", "enterprise"}
    assert card.blocked and card.block_reason == "Waiting for the customer's CSV export"
    assert Comment.objects.get(card=card).body == "First batch of **500** imported."


def test_a_focused_card_moves_with_the_keyboard(acme, open_page):
    page = open_page(acme.alice, board_url(acme))
    card = acme.cards["ready3"]
    card_on(page, card).focus()

    # Space picks it up, ArrowRight carries it to Doing, Space drops it there
    page.keyboard.press("Space")
    expect(card_on(page, card)).to_have_class("card cos-standard is-grabbed")
    page.keyboard.press("ArrowRight")
    with page.expect_response(lambda r: r.url.endswith(f"/cards/{card.pk}/move/")) as move:
        page.keyboard.press("Space")
    assert move.value.status == 200
    expect(page.locator("#board-live")).to_contain_text("moved to Doing")

    page.reload()
    assert card.pk in ids_in(cell(page, acme, "Doing"))
    card.refresh_from_db()
    assert card.column_id == acme.columns["Doing"].pk

    # and Escape puts a picked-up card back
    other = acme.cards["ready1"]
    card_on(page, other).focus()
    page.keyboard.press("Space")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Escape")
    assert other.pk in ids_in(cell(page, acme, "Ready"))


def test_quick_add_puts_a_new_card_at_the_bottom_of_the_column(acme, open_page):
    page = open_page(acme.alice, board_url(acme))
    backlog = cell(page, acme, "Backlog")
    backlog.get_by_role("button", name="Add card to Backlog, Standard").click()
    with page.expect_response(lambda r: r.request.method == "POST") as created:
        backlog.get_by_label("Title of the new card in Backlog").fill("Onboard Juniper Software")
        page.keyboard.press("Enter")
    assert created.value.status == 201
    expect(backlog.locator(".card").last).to_contain_text("Onboard Juniper Software")
    card = Card.objects.get(title="Onboard Juniper Software")
    assert ids_in(backlog)[-1] == card.pk
    assert (card.column_id, card.swimlane_id) == (
        acme.columns["Backlog"].pk,
        acme.lanes["Standard"].pk,
    )


def test_every_control_has_a_label(acme, open_page):
    page = open_page(acme.alice, board_url(acme))
    card_on(page, acme.cards["doing2"]).click()
    expect(page.locator("#card-dialog")).to_be_visible()
    unlabelled = page.evaluate(
        """() => Array.from(document.querySelectorAll('input, select, textarea, button'))
          .filter(el => el.type !== 'hidden')
          .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                        && !el.getAttribute('aria-labelledby') && !el.textContent.trim())
          .map(el => el.outerHTML.slice(0, 120))"""
    )
    assert unlabelled == []


def test_on_a_phone_the_columns_scroll_sideways(acme, open_page, screenshot):
    page = open_page(acme.alice, board_url(acme), viewport=PHONE)
    widths = page.evaluate(
        """() => ({page: document.documentElement.scrollWidth,
                  board: document.querySelector('.board-scroll').scrollWidth,
                  view: document.querySelector('.board-scroll').clientWidth})"""
    )
    assert widths["page"] <= PHONE["width"]
    assert widths["board"] > widths["view"]
    screenshot(page, "board-phone")
