"""Two people on the same card, each in their own browser: the open dialog follows the other's
changes live, asks before one overwrites a field being edited, and says who changed what when
a save comes too late; the history shows everything; archive, restore and delete from the
board page; the release policy on the settings page."""

import re

import pytest
from playwright.sync_api import Page, expect

from boards import services
from boards.models import Card
from tests.browser.conftest import Acme

pytestmark = pytest.mark.django_db(transaction=True)


def board_url(acme: Acme) -> str:
    return f"/boards/{acme.board.pk}/"


def open_card(page: Page, card: Card):
    page.wait_for_function("() => window.obeyaLive && window.obeyaLive.state === 'live'")
    page.locator(f'.card[data-card-id="{card.pk}"]').click()
    dialog = page.locator("#card-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("Title")).to_have_value(card.title)
    return dialog


def test_a_colleagues_change_arrives_in_the_open_dialog_and_a_field_being_edited_asks_first(
    acme, open_page, screenshot
):
    card = acme.cards["doing1"]
    alice = open_page(acme.alice, board_url(acme))
    bob = open_page(acme.bob, board_url(acme))
    alice_dialog, bob_dialog = open_card(alice, card), open_card(bob, card)
    loaded = Card.objects.get(pk=card.pk).version

    # alice starts retitling the card, and has not saved yet
    alice_dialog.get_by_label("Title").fill("Alice's title")

    # bob changes the title and the customer, and saves
    bob_dialog.get_by_label("Title").fill("Bob's title")
    bob_dialog.get_by_label("Customer").fill("Tidewater Foods Ltd")
    with bob.expect_response(lambda r: r.request.method == "PATCH") as saved:
        bob_dialog.get_by_role("button", name="Save changes").click()
    assert saved.value.status == 200
    # only what bob changed went out, with the version his dialog loaded
    sent = saved.value.request.post_data_json
    assert sent == {"title": "Bob's title", "customer": "Tidewater Foods Ltd", "version": loaded}

    # alice's dialog: the customer she did not touch follows; her title is kept, with a question
    expect(alice_dialog.get_by_label("Customer")).to_have_value("Tidewater Foods Ltd")
    expect(alice_dialog.get_by_label("Title")).to_have_value("Alice's title")
    conflict = alice_dialog.locator("#dlg-conflicts li")
    expect(conflict).to_have_count(1)
    expect(conflict).to_have_text(re.compile(r"bob changed the title to “Bob's title”\."))
    expect(conflict.get_by_role("button", name="Take theirs")).to_be_visible()
    screenshot(alice, "card-dialog-conflict")

    # she keeps hers and saves: her title lands, bob's customer stays
    with alice.expect_response(lambda r: r.request.method == "PATCH") as alice_saved:
        conflict.get_by_role("button", name="Keep mine").click()
        alice_dialog.get_by_role("button", name="Save changes").click()
    assert alice_saved.value.status == 200
    assert alice_saved.value.request.post_data_json == {
        "title": "Alice's title",
        "version": loaded + 1,
    }
    expect(alice_dialog.locator("#dlg-status")).to_have_text("Saved.")
    expect(conflict).to_have_count(0)
    card.refresh_from_db()
    assert (card.title, card.customer, card.version) == (
        "Alice's title",
        "Tidewater Foods Ltd",
        loaded + 2,
    )
    # and bob's dialog, where the title is no longer being edited, follows hers
    expect(bob_dialog.get_by_label("Title")).to_have_value("Alice's title")
    expect(bob_dialog.locator("#dlg-conflicts li")).to_have_count(0)


def test_take_theirs_puts_the_colleagues_value_in_the_field(acme, open_page):
    card = acme.cards["ready1"]
    alice = open_page(acme.alice, board_url(acme))
    dialog = open_card(alice, card)
    dialog.get_by_label(re.compile(r"^Value")).fill("12")

    services.update_card(Card.objects.get(pk=card.pk), value=99, actor=acme.bob)

    conflict = dialog.locator('#dlg-conflicts li[data-conflict="value"]')
    expect(conflict).to_have_text(re.compile(r"bob changed the value to “99”"))
    conflict.get_by_role("button", name="Take theirs").click()
    expect(dialog.get_by_label(re.compile(r"^Value"))).to_have_value("99")
    dialog.get_by_role("button", name="Save changes").click()
    expect(dialog.locator("#dlg-status")).to_have_text("Nothing to save.")


def test_a_save_that_missed_a_change_is_refused_and_says_who_changed_what(
    acme, open_page, screenshot
):
    """alice's socket hears nothing while bob edits (as when her connection is down), so her
    dialog is stale when she saves: the server refuses (409) and the dialog says who changed
    what, keeping her text; saving again keeps hers, from bob's version."""
    card = acme.cards["ready2"]
    alice = open_page(acme.alice, board_url(acme))
    deaf = {"on": False}

    def hold_messages(ws):
        server = ws.connect_to_server()
        server.on_message(lambda message: None if deaf["on"] else ws.send(message))
        ws.on_message(lambda message: server.send(message))

    # The board's socket through a route that can stop passing the server's messages on.
    alice.route_web_socket(re.compile(r"/ws/boards/"), hold_messages)
    alice.reload()
    dialog = open_card(alice, card)
    deaf["on"] = True
    services.update_card(Card.objects.get(pk=card.pk), title="Bob's wording", actor=acme.bob)

    dialog.get_by_label("Title").fill("Alice's wording")
    with alice.expect_response(lambda r: r.request.method == "PATCH") as refused:
        dialog.get_by_role("button", name="Save changes").click()
    assert refused.value.status == 409
    status = dialog.locator("#dlg-status")
    expect(status).to_contain_text("bob changed the title")
    expect(status).to_contain_text("Nothing was saved")
    expect(dialog.get_by_label("Title")).to_have_value("Alice's wording")
    expect(dialog.locator("#dlg-conflicts li")).to_have_text(
        re.compile(r"bob changed the title to “Bob's wording”")
    )
    screenshot(alice, "card-dialog-refused-save")
    assert Card.objects.get(pk=card.pk).title == "Bob's wording"

    with alice.expect_response(lambda r: r.request.method == "PATCH") as again:
        dialog.get_by_role("button", name="Save changes").click()
    assert again.value.status == 200
    assert Card.objects.get(pk=card.pk).title == "Alice's wording"


def test_the_history_shows_edits_comments_blocks_and_moves_readably(acme, open_page, screenshot):
    card = Card.objects.get(pk=acme.cards["backlog1"].pk)
    services.move_card(card, to_column=acme.columns["Ready"], actor=acme.carol)
    services.update_card(card, title="Onboard the Lakeside clinic", actor=acme.bob)
    services.add_comment(card, body="Kick-off **Monday**", actor=acme.carol)
    services.block_card(card, reason="Waiting for their IT", actor=acme.bob)
    page = open_page(acme.alice, board_url(acme))
    dialog = open_card(page, Card.objects.get(pk=card.pk))

    timeline = dialog.locator("#dlg-history li")
    expect(timeline.last).to_contain_text("Blocked: Waiting for their IT")
    texts = timeline.all_inner_texts()
    assert texts[0].startswith("Created in Backlog")
    assert texts[1].startswith("Backlog → Ready")
    retitled = re.compile(r"Changed the title from “.+” to “Onboard the Lakeside clinic”")
    assert any(retitled.match(t) for t in texts)
    assert any(t.startswith("Commented") and "Monday" in t for t in texts)
    assert dialog.locator("#dlg-history li.kind-commented strong").inner_text() == "Monday"
    screenshot(page, "card-dialog-history")


def test_archive_from_the_dialog_then_restore_from_the_archived_list(acme, open_page, screenshot):
    card = acme.cards["ready3"]
    page = open_page(acme.alice, board_url(acme))
    dialog = open_card(page, card)

    dialog.get_by_role("button", name="Archive", exact=True).click()
    expect(dialog).to_be_hidden()
    expect(page.locator(f'.card[data-card-id="{card.pk}"]')).to_have_count(0)
    expect(page.locator("#board-message")).to_contain_text("archived")
    assert Card.objects.get(pk=card.pk).archived is True

    page.get_by_role("button", name="Archived", exact=True).click()
    panel = page.locator("#archive-dialog")
    expect(panel).to_be_visible()
    row = panel.locator(f'.archived-card[data-card-id="{card.pk}"]')
    expect(row).to_contain_text(card.title)
    expect(row).to_contain_text("Ready")
    screenshot(page, "archived-cards")

    row.get_by_role("button", name=re.compile("^Restore")).click()
    expect(row).to_have_count(0)
    ready = f'.cell[data-column-id="{acme.columns["Ready"].pk}"]'
    expect(page.locator(f'{ready} .card[data-card-id="{card.pk}"]')).to_have_count(1)
    assert Card.objects.get(pk=card.pk).archived is False


def test_delete_asks_for_confirmation_first(acme, open_page, screenshot):
    card = acme.cards["backlog4"]
    page = open_page(acme.alice, board_url(acme))
    dialog = open_card(page, card)

    dialog.get_by_role("button", name="Delete…").click()
    confirm = dialog.locator("#dlg-delete-confirm")
    expect(confirm).to_be_visible()
    expect(confirm).to_contain_text("cannot be undone")
    screenshot(page, "card-dialog-delete-confirm")
    confirm.get_by_role("button", name="Cancel").click()
    expect(confirm).to_be_hidden()
    assert Card.objects.filter(pk=card.pk).exists()

    dialog.get_by_role("button", name="Delete…").click()
    confirm.get_by_role("button", name="Delete for good").click()
    expect(dialog).to_be_hidden()
    expect(page.locator(f'.card[data-card-id="{card.pk}"]')).to_have_count(0)
    assert not Card.objects.filter(pk=card.pk).exists()


def test_the_release_policy_is_set_on_the_settings_page(acme, open_page, screenshot):
    page = open_page(acme.alice, f"/boards/{acme.board.pk}/settings/")
    section = page.locator("#releases")
    section.get_by_label("Archive finished cards after (days)").fill("14")
    section.get_by_role("button", name="Save").click()
    expect(page.locator(".messages")).to_contain_text(
        "finished more than 14 days ago will be archived"
    )
    expect(page.locator("#release-days")).to_have_value("14")
    screenshot(page, "settings-release-policy", full_page=True)
    acme.board.refresh_from_db()
    assert acme.board.release_done_after_days == 14
