"""Setting Obeya up in a real browser, with no API and no shell: a fresh install's first run
(the owner and the organisation), a board from a template, its settings (a column with a hard
WIP limit and a policy, moved), and the board showing them; inviting someone and changing a
role; the branded 404. Screenshots: artifacts/screenshots/setup-*.png."""

import re

import pytest
from playwright.sync_api import expect

from accounts.models import Invitation, Membership, Organization, Role, User
from boards.models import Board
from tests.browser.conftest import PHONE

pytestmark = pytest.mark.django_db(transaction=True)

PASSPHRASE = "correct horse battery staple"


def test_first_run_to_a_board_from_a_template_with_a_new_hard_limited_column(open_page, screenshot):
    # given: a fresh install, nobody has an account; the login page points to the first run
    page = open_page(None, "/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    page.get_by_role("link", name="set up Obeya").click()
    expect(page.get_by_role("heading", name="Set up Obeya")).to_be_visible()

    # when: the owner and the organisation are made
    page.get_by_label("Organisation").fill("Initech")
    page.get_by_label("First team").fill("Platform")
    page.get_by_label("Username").fill("peter")
    page.get_by_label("Email").fill("peter@initech.example")
    page.get_by_label("Password", exact=True).fill(PASSPHRASE)
    page.get_by_label("Repeat the password").fill(PASSPHRASE)
    screenshot(page, "setup-first-run")
    page.get_by_role("button", name="Create the organisation").click()

    # then: logged in as the owner, on the new-board page of the new organisation
    expect(page).to_have_url(re.compile(r"/o/initech/boards/new/$"))
    expect(page.get_by_text("Welcome to Obeya")).to_be_visible()
    assert Membership.objects.get(user__username="peter").role == Role.OWNER

    # when: a board is made from the Software delivery template
    page.get_by_label("Board name").fill("Payments")
    page.get_by_text("Software delivery", exact=True).click()
    screenshot(page, "setup-new-board")
    page.get_by_role("button", name="Create the board").click()
    board = Board.objects.get(name="Payments")
    expect(page).to_have_url(re.compile(rf"/boards/{board.pk}/$"))
    heads = page.locator(".column-head .column-name")
    expect(heads).to_have_text(["Backlog", "Ready", "Development", "Code review", "Test",
                                "Ready to release", "Done"])  # fmt: skip

    # when: in its settings, a column with a hard limit of 2 and a policy is added, then moved
    # before Done
    page.get_by_role("link", name="Settings").click()
    expect(page).to_have_url(re.compile(rf"/boards/{board.pk}/settings/$"))
    add = page.get_by_role("form", name="Add a column")
    add.get_by_label("New column").fill("Deploy")
    add.get_by_label("Stage").select_option("active")
    add.get_by_label("WIP limit").fill("2")
    add.get_by_label("Limit is").select_option("hard")
    add.get_by_label("Policy").fill("Exit: running in production, monitored for a day.")
    add.get_by_role("button", name="Add column").click()
    expect(page.get_by_text("Column Deploy added.")).to_be_visible()
    page.get_by_role("button", name="Move Deploy left").click()
    expect(page.get_by_text("Column Deploy moved.")).to_be_visible()
    names = page.locator("[data-column-id] input[name=name]")
    assert names.evaluate_all("(inputs) => inputs.map((i) => i.value)") == [
        "Backlog", "Ready", "Development", "Code review", "Test", "Ready to release", "Deploy",
        "Done",
    ]  # fmt: skip
    screenshot(page, "setup-board-settings", full_page=True)

    # and: bad input is refused with a sentence, changing nothing
    add.get_by_label("New column").fill("Broken")
    add.get_by_label("WIP limit").fill("0")
    add.evaluate("(form) => form.noValidate = true")  # past the browser's own check
    add.get_by_role("button", name="Add column").click()
    expect(page.get_by_role("alert")).to_contain_text("greater than or equal to 1")
    assert not board.columns.filter(name="Broken").exists()

    # then: the board shows the new column, its hard limit and its policy
    page.get_by_role("link", name="Payments").click()
    deploy = page.locator(".column-head", has_text="Deploy")
    expect(heads.nth(6)).to_have_text("Deploy")
    expect(deploy.locator(".wip")).to_have_text(re.compile(r"WIP\s*0\s*/\s*2"))
    expect(deploy.locator(".limit-kind")).to_have_text("hard limit")
    deploy.get_by_text("Policy").click()
    expect(deploy.get_by_role("note")).to_have_text(
        "Exit: running in production, monitored for a day."
    )
    screenshot(page, "setup-board-with-new-column")

    # and: the first run is gone for good
    assert page.goto("/accounts/setup/").status == 404


def test_an_owner_invites_someone_who_joins_and_then_changes_a_role(
    acme, open_page, browser, live_server_url, screenshot
):
    # given: alice, the owner, on the organisation's People page (a tab of every org page)
    page = open_page(acme.alice, "/o/acme/")
    page.get_by_role("link", name="People", exact=True).click()
    expect(page).to_have_url(re.compile(r"/o/acme/people/$"))

    # when: she invites someone as a member
    invite = page.get_by_role("form", name="Invite someone")
    invite.get_by_label("Email").fill("nina@acme.example")
    invite.get_by_label("Role").select_option("member")
    invite.get_by_role("button", name="Make an invitation").click()

    # then: the link is shown once
    link = page.locator("[data-role=invitation-link]")
    expect(link).to_contain_text("/invitations/")
    screenshot(page, "setup-people-invited", full_page=True)
    assert Invitation.objects.get().email == "nina@acme.example"

    # when: the invited person opens it, with no account yet, and signs up
    guest = browser.new_context(base_url=live_server_url)
    try:
        other = guest.new_page()
        other.goto(link.inner_text().strip())
        other.get_by_label("Username").fill("nina")
        other.get_by_label("Password", exact=True).fill(PASSPHRASE)
        other.get_by_label("Repeat the password").fill(PASSPHRASE)
        other.get_by_role("button", name="Create my account and join").click()
        expect(other).to_have_url(re.compile(r"/o/acme/$"))
    finally:
        guest.close()
    nina = User.objects.get(username="nina")

    # then: she is on the People page; alice makes her an admin with a personal WIP limit
    page.goto("/o/acme/people/")  # not a reload, which would send the invitation's form again
    row = page.get_by_role("form", name=nina.display_name)
    row.get_by_label("Role").select_option("admin")
    row.get_by_label("Personal WIP").fill("3")
    row.get_by_role("button", name="Save").click()
    expect(page.get_by_text(f"{nina.display_name} saved.")).to_be_visible()
    membership = Membership.objects.get(user=nina, organization=acme.org)
    assert (membership.role, membership.wip_limit) == (Role.ADMIN, 3)

    # and: puts her on the Sales team
    team = page.get_by_role("listitem").filter(has=page.get_by_role("form", name="Team Sales"))
    team.get_by_label("Add to Sales").select_option(label=nina.display_name)
    team.get_by_role("button", name="Add to team").click()
    expect(page.get_by_text(f"{nina.display_name} joined Sales.")).to_be_visible()
    screenshot(page, "setup-people", full_page=True)
    assert acme.board.team.members.filter(pk=nina.pk).exists()
    assert Invitation.objects.get().accepted_by == nina  # and no longer listed as pending
    expect(page.locator("[data-invitation-id]")).to_have_count(0)


def test_a_viewer_sees_the_settings_read_only(acme, open_page, screenshot):
    page = open_page(acme.victor, f"/boards/{acme.board.pk}/settings/")
    expect(page.get_by_text("Read-only")).to_be_visible()
    expect(page.get_by_role("button", name="Add column")).to_have_count(0)
    expect(page.locator("[data-column-id] input[name=name]").first).to_be_disabled()
    screenshot(page, "setup-settings-read-only")


def test_the_settings_and_people_pages_fit_a_phone(acme, open_page, screenshot):
    for path, name in (
        (f"/boards/{acme.board.pk}/settings/", "settings"),
        ("/o/acme/people/", "people"),
    ):
        page = open_page(acme.alice, path, viewport=PHONE)
        width = page.evaluate("() => document.documentElement.scrollWidth")
        screenshot(page, f"setup-{name}-phone")
        assert width <= PHONE["width"], f"{path} scrolls sideways on a phone ({width}px)"


def test_an_unknown_page_is_the_branded_404_with_a_way_back(acme, open_page, screenshot):
    page = open_page(acme.alice, "/boards/987654/")
    expect(page.get_by_role("heading", name="This page is not here")).to_be_visible()
    screenshot(page, "setup-404")
    page.get_by_role("link", name="Back to your boards").click()
    expect(page.get_by_role("link", name="Customer onboarding", exact=True)).to_be_visible()
    # the home page links to what the owner may set up
    expect(page.get_by_role("link", name="New board")).to_be_visible()
    expect(page.get_by_role("link", name="People and teams")).to_be_visible()
    screenshot(page, "setup-home")
    assert Organization.objects.filter(slug="acme").exists()


def test_a_column_is_dragged_to_its_new_place(acme, open_page):
    # given: alice on the Sales board's settings (tall enough that nothing scrolls mid-drag)
    page = open_page(
        acme.alice, f"/boards/{acme.board.pk}/settings/", viewport={"width": 1280, "height": 1600}
    )
    review = page.locator(f"li[data-column-id='{acme.columns['Review'].pk}']")
    ready = page.locator(f"li[data-column-id='{acme.columns['Ready'].pk}']")

    # when: Review is dragged above Ready (by its card, not its inputs)
    review.locator(".settings-meta").drag_to(ready, target_position={"x": 40, "y": 6})

    # then: the page comes back with the new order, which the server has
    expect(page.get_by_text("Column Review moved.")).to_be_visible()
    names = page.locator("[data-column-id] input[name=name]")
    expected = ["Backlog", "Review", "Ready", "Doing", "Done"]
    assert names.evaluate_all("(inputs) => inputs.map((i) => i.value)") == expected
    assert list(acme.board.columns.order_by("position").values_list("name", flat=True)) == expected
