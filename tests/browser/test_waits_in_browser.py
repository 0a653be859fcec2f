"""Waiting on another team, in the browser: bob makes a Sales card wait on an IT card from the
card dialog and sees it blocked; frank finishes the IT card and bob's board clears it live."""

import pytest
from playwright.sync_api import expect

from boards import services
from boards.models import Card, CardWait
from tests.browser.test_board_in_browser import board_url, card_on
from tests.browser.test_live_and_metrics import wait_live

pytestmark = pytest.mark.django_db(transaction=True)

# A move made from frank's page, as its own scripts make them (the session's CSRF token).
MOVE = """async ([card, column]) => {
  const token = document.cookie.match(/csrftoken=([^;]+)/)[1];
  const response = await fetch(`/api/v1/cards/${card}/move/`, {
    method: "POST", credentials: "same-origin",
    headers: {"Content-Type": "application/json", "X-CSRFToken": token},
    body: JSON.stringify({column}),
  });
  return response.status;
}"""


def test_a_wait_added_in_the_dialog_blocks_the_card_and_clears_live_when_upstream_finishes(
    acme, open_page, screenshot
):
    # given: bob on the Sales board, frank on IT's, both live
    upstream = Card.objects.get(board=acme.it_board, title="Laptop for new hire Jonas")
    card = acme.cards["ready1"]
    bob = open_page(acme.bob, board_url(acme))
    frank = open_page(acme.frank, f"/boards/{acme.it_board.pk}/")
    wait_live(bob)
    wait_live(frank)

    # when: bob opens his card and makes it wait on IT's card by its reference
    card_on(bob, card).click()
    dialog = bob.locator("#card-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("#dlg-waits-none")).to_be_visible()
    dialog.get_by_label("Wait on card").fill(f"#{upstream.pk}")

    def is_add(response) -> bool:
        return response.request.method == "POST" and response.url.endswith(f"/{card.pk}/waits/")

    with bob.expect_response(is_add) as added:
        dialog.get_by_role("button", name="Wait", exact=True).click()
    assert added.value.status == 201

    # then: the dialog lists it with a link, and the card on the board is blocked by it
    entry = dialog.locator("#dlg-waits-list li.wait.open")
    expect(entry).to_contain_text(f"#{upstream.pk} Laptop for new hire Jonas")
    expect(entry).to_contain_text("(IT · IT operations)")
    expect(entry.locator("a")).to_have_attribute(
        "href", f"/boards/{acme.it_board.pk}/#card-{upstream.pk}"
    )
    # the dialog's blocker says so too, and offers no unblock: ending the wait does that
    expect(dialog.locator('[data-field="blocked"]')).to_have_text(
        "Blocked: Waiting on a card of IT"
    )
    expect(dialog.locator("#dlg-block")).to_be_hidden()
    expect(dialog.locator("#dlg-unblock")).to_be_hidden()
    marker = card_on(bob, card).locator(".blocked-marker")
    expect(marker).to_contain_text(f"Waiting on #{upstream.pk} (IT)")
    expect(card_on(bob, card)).to_have_attribute("data-blocked", "true")
    screenshot(bob, "waits-dialog")
    # and IT's board shows, live, who waits on its card
    expect(card_on(frank, upstream).locator(".waited-on-marker")).to_contain_text(
        "Waited on by 1 card on 1 team"
    )
    screenshot(frank, "waits-upstream-board")

    bob.keyboard.press("Escape")
    expect(dialog).to_be_hidden()

    # when: frank finishes IT's card
    done = acme.it_board.columns.get(name="Done").pk
    assert frank.evaluate(MOVE, [upstream.pk, done]) == 200

    # then: bob's card is unblocked on his board without a reload, and IT's loses its marker
    expect(card_on(bob, card)).to_have_attribute("data-blocked", "false", timeout=3000)
    expect(card_on(bob, card).locator(".blocked-marker")).to_have_count(0)
    expect(card_on(frank, upstream).locator(".waited-on-marker")).to_have_count(0)
    wait = CardWait.objects.get(card=card)
    assert wait.ended_reason == "finished"
    screenshot(bob, "waits-cleared")


def test_the_dialog_says_why_a_cycle_of_waits_is_refused(acme, open_page, screenshot):
    upstream = Card.objects.get(board=acme.it_board, title="Laptop for new hire Jonas")
    card = acme.cards["ready1"]
    services.add_wait(upstream, on=card, actor=acme.alice)  # IT's card already waits on bob's
    bob = open_page(acme.bob, board_url(acme))
    card_on(bob, card).click()
    dialog = bob.locator("#card-dialog")
    expect(dialog.locator("#dlg-waited-summary")).to_have_text("Waited on by 1 card on 1 team:")

    dialog.get_by_label("Wait on card").fill(f"#{upstream.pk}")
    dialog.get_by_role("button", name="Wait", exact=True).click()

    expect(dialog.locator("#dlg-wait-status")).to_contain_text("That would make a cycle")
    assert not CardWait.objects.filter(card=card).exists()
    screenshot(bob, "waits-cycle-refused")


def test_the_stand_up_overview_and_metrics_show_the_waits(acme, open_page, screenshot):
    from datetime import timedelta

    from django.utils import timezone

    upstream = Card.objects.get(board=acme.it_board, title="Laptop for new hire Jonas")
    t0 = timezone.now() - timedelta(days=3)
    services.add_wait(acme.cards["ready1"], on=upstream, actor=acme.alice, at=t0)
    services.add_wait(acme.cards["ready2"], on=upstream, actor=acme.alice, at=t0)

    standup = open_page(acme.frank, f"/boards/{acme.it_board.pk}/standup/")
    first = standup.locator("#waited-on")
    expect(first).to_contain_text("Laptop for new hire Jonas")
    expect(first).to_contain_text("2 cards on 1 team waiting on it")
    screenshot(standup, "waits-standup", full_page=True)

    overview = open_page(acme.alice, f"/o/{acme.org.slug}/")
    row = overview.locator(".team-waits tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Sales")
    expect(row).to_contain_text("IT")
    screenshot(overview, "waits-overview", full_page=True)

    metrics = open_page(acme.bob, f"/boards/{acme.board.pk}/metrics/")
    expect(metrics.locator(".dependency-waits tbody tr")).to_contain_text("2")
    screenshot(metrics, "waits-metrics")
