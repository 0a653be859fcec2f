"""The invitation page in a real browser: a newcomer signs up from the link and lands in the
organisation; someone with an account joins with one button; a used link reads as such.
Screenshots: artifacts/screenshots/invitation-*.png."""

import pytest
from playwright.sync_api import expect

from accounts import services as accounts_services
from accounts.models import Membership, Role, User
from tests.browser.conftest import PHONE

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_newcomer_signs_up_from_the_link_and_lands_in_the_organisation(
    acme, open_page, screenshot
):
    # given: alice's invitation link, opened by someone with no account
    _, key = accounts_services.create_invitation(
        acme.org, role=Role.MEMBER, email="nora@example.com", actor=acme.alice
    )
    page = open_page(None, f"/invitations/{key}/")
    expect(page.get_by_role("heading", name="Join Acme")).to_be_visible()
    expect(page.get_by_text("nora@example.com")).to_be_visible()
    expect(page.get_by_role("link", name="Log in to accept")).to_be_visible()
    screenshot(page, "invitation-anonymous")

    # when: a password too short first, then a good one
    page.get_by_label("Username").fill("nora")
    page.get_by_label("Password", exact=True).fill("short")
    page.get_by_label("Repeat the password").fill("short")
    page.get_by_role("button", name="Create my account and join").click()
    expect(page.get_by_text("This password is too short")).to_be_visible()
    screenshot(page, "invitation-sign-up-refused")
    page.get_by_label("Password", exact=True).fill("a-long-Passphrase-42")
    page.get_by_label("Repeat the password").fill("a-long-Passphrase-42")
    page.get_by_role("button", name="Create my account and join").click()

    # then
    page.wait_for_url("**/o/acme/")
    expect(page.get_by_text("Welcome to Acme.")).to_be_visible()
    expect(page.locator(".who")).to_have_text("nora")
    nora = User.objects.get(username="nora")
    assert Membership.objects.get(organization=acme.org, user=nora).role == Role.MEMBER


def test_someone_with_an_account_joins_with_one_button(acme, open_page, screenshot):
    # given: gwen has an account, in no organisation yet
    gwen = User.objects.create_user("gwen", password="unused")
    _, key = accounts_services.create_invitation(acme.org, role=Role.VIEWER, actor=acme.alice)
    page = open_page(gwen, f"/invitations/{key}/", viewport=PHONE)
    screenshot(page, "invitation-logged-in-phone")

    # when
    page.get_by_role("button", name="Join Acme").click()

    # then
    page.wait_for_url("**/o/acme/")
    assert Membership.objects.get(organization=acme.org, user=gwen).role == Role.VIEWER

    # and the link is used up: opened again, it says so
    page.goto(f"/invitations/{key}/")
    expect(page.get_by_role("heading", name="This invitation is not valid")).to_be_visible()
    screenshot(page, "invitation-not-valid")
