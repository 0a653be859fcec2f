"""Invitations: the only way into an organisation. A manager makes a link, whoever holds it
joins, once. Nobody is looked up when it is made, so the answer says nothing about who exists,
and nobody is enrolled but by their own accept. Members are changed and removed by user id;
removal closes the removed user's websockets on that organisation's boards."""

import asyncio
import json
import threading
import time
from datetime import timedelta

import pytest
from asgiref.testing import ApplicationCommunicator
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import services
from accounts.models import Invitation, Membership, Role, TeamMembership, User
from accounts.services import (
    accept_invitation,
    create_api_token,
    create_invitation,
    remove_member,
    revoke_invitation,
    sign_up_with_invitation,
)
from kanban.exceptions import Conflict, Forbidden, InvalidInput, InvitationNotValid
from tests.factories import TeamFactory, UserFactory
from tests.test_api_accounts import accounts_state, assert_error

pytestmark = pytest.mark.django_db

API = "/api/v1"
NOT_VALID = "This invitation is not valid (expired, used or revoked)."


def invite(world, role: str = Role.MEMBER, email: str = "", actor=None) -> tuple[Invitation, str]:
    return create_invitation(world.acme, role=role, email=email, actor=actor or world.alice)


def members_of(organization) -> dict[str, str]:
    return dict(
        Membership.objects.filter(organization=organization).values_list("user__username", "role")
    )


# --- making an invitation tells nothing about who exists -------------------------------------


def test_an_invitation_answers_the_same_whether_or_not_such_a_user_exists(world, api):
    """gina@example.com is Globex's gina, bob@example.com is in Acme already, nobody has
    nobody@example.com: the three answers have the same keys, types and values, but for the
    invitation's own id, key, link and times, and cost the same queries."""
    client = api(world.alice)
    client.get(f"{API}/me/")  # the token's first use of the minute writes last_used_at
    answers, query_counts = [], []
    for email in ("gina@example.com", "bob@example.com", "nobody@example.com"):
        with CaptureQueriesContext(connection) as queries:
            response = client.post(
                f"{API}/orgs/acme/invitations/", {"role": "member", "email": email}, "json"
            )
        assert response.status_code == 201, response.content
        answers.append(response.json())
        query_counts.append(len(queries))

    unique = {"id", "key", "accept_url", "created_at", "expires_at", "email"}
    shapes = [{k: type(v).__name__ for k, v in a.items()} for a in answers]
    assert shapes[0] == shapes[1] == shapes[2]
    assert set(answers[0]) == {
        "id",
        "role",
        "email",
        "expires_at",
        "created_at",
        "status",
        "accept_url",
        "key",
    }
    common = [{k: v for k, v in a.items() if k not in unique} for a in answers]
    assert common[0] == common[1] == common[2] == {"role": "member", "status": "pending"}
    assert [len(a["key"]) for a in answers] == [43, 43, 43]
    assert len(set(query_counts)) == 1
    assert members_of(world.globex) == {"gina": "owner"}
    assert "bob" in members_of(world.acme) and "gina" not in members_of(world.acme)


def test_making_an_invitation_never_reads_the_users_table(world):
    with CaptureQueriesContext(connection) as queries:
        create_invitation(world.acme, role=Role.MEMBER, email="gina@example.com", actor=world.alice)
    assert queries.captured_queries
    assert not [q["sql"] for q in queries.captured_queries if '"accounts_user"' in q["sql"]]


def test_the_key_is_shown_once_and_stored_only_as_its_hash(world, api):
    body = api(world.alice).post(f"{API}/orgs/acme/invitations/", {"role": "viewer"}, "json").json()
    invitation = Invitation.objects.get(pk=body["id"])
    assert invitation.key_hash != body["key"] and body["key"] not in invitation.key_hash
    assert invitation.prefix == body["key"][:8]
    assert body["accept_url"] == f"http://testserver/invitations/{body['key']}/"
    assert invitation.created_by == world.alice and invitation.email == ""
    assert invitation.expires_at - invitation.created_at == timedelta(days=7)
    listed = api(world.alice).get(f"{API}/orgs/acme/invitations/").json()["results"]
    assert listed == [{k: v for k, v in body.items() if k not in {"key", "accept_url"}}]


# --- nobody is enrolled but by their own accept ----------------------------------------------


def test_gina_is_never_enrolled_in_acme_by_anyone_but_herself(world, api):
    # given: every way Acme's owner had to add her
    alice = api(world.alice)
    alice.post(f"{API}/orgs/acme/members/", {"username": "gina", "role": "owner"}, "json")
    alice.patch(f"{API}/orgs/acme/members/{world.gina.pk}/", {"role": "owner"}, "json")
    _, key = invite(world, role=Role.OWNER, email="gina@example.com")
    # an invitation meant for her email, taken up by someone else, lets that one in, not her
    nora = UserFactory(username="nora")
    api(nora).post(f"{API}/invitations/accept/", {"key": key}, "json")
    assert "gina" not in members_of(world.acme)
    assert members_of(world.acme)["nora"] == "owner"

    # when: she accepts an invitation herself
    _, key = invite(world, role=Role.VIEWER, email="gina@example.com")
    response = api(world.gina).post(f"{API}/invitations/accept/", {"key": key}, "json")

    # then
    assert response.status_code == 200
    assert members_of(world.acme)["gina"] == "viewer"


def test_accepting_through_the_api_joins_with_the_invitations_role(world, api):
    # given
    invitation, key = invite(world, role=Role.MEMBER, email="gina@example.com")
    gina = api(world.gina)
    assert_error(gina.get(f"{API}/boards/{world.board.pk}/"), 404, "not_found")

    # when
    response = gina.post(f"{API}/invitations/accept/", {"key": key}, "json")

    # then
    assert response.status_code == 200, response.content
    assert response.json() == {
        "user": world.gina.pk,
        "username": "gina",
        "name": world.gina.display_name,
        "role": "member",
        "wip_limit": None,
        "organization": "acme",
    }
    assert gina.get(f"{API}/boards/{world.board.pk}/").status_code == 200
    invitation.refresh_from_db()
    assert invitation.accepted_by == world.gina and invitation.accepted_at is not None
    assert invitation.status == "accepted"
    assert members_of(world.globex) == {"gina": "owner"}  # her own organisation is untouched


def test_an_existing_member_keeps_their_role_and_the_invitation_is_used_up(world, api):
    invitation, key = invite(world, role=Role.ADMIN)
    response = api(world.bob).post(f"{API}/invitations/accept/", {"key": key}, "json")
    assert response.status_code == 200
    assert response.json()["role"] == "member"
    assert members_of(world.acme)["bob"] == "member"
    invitation.refresh_from_db()
    assert invitation.accepted_by == world.bob
    assert_error(
        api(world.gina).post(f"{API}/invitations/accept/", {"key": key}, "json"),
        404,
        "invitation_not_valid",
    )


def _expire(invitation: Invitation) -> None:
    Invitation.objects.filter(pk=invitation.pk).update(
        created_at=timezone.now() - timedelta(days=8), expires_at=timezone.now()
    )


@pytest.mark.parametrize("state", ["unknown", "expired", "revoked", "used"])
def test_expired_revoked_used_and_unknown_keys_are_refused_alike_and_change_nothing(
    world, api, state
):
    # given
    invitation, key = invite(world, role=Role.ADMIN)
    if state == "unknown":
        key = key[:-4] + "AAAA"
    elif state == "expired":
        _expire(invitation)
    elif state == "revoked":
        revoke_invitation(invitation, actor=world.alice)
    else:
        accept_invitation(key, actor=UserFactory(username="first"))
    before = accounts_state()
    rows = list(Invitation.objects.values())

    # when
    response = api(world.gina).post(f"{API}/invitations/accept/", {"key": key}, "json")

    # then: one answer, whatever the reason
    assert response.status_code == 404
    assert response.json() == {"code": "invitation_not_valid", "detail": NOT_VALID}
    assert accounts_state() == before
    assert list(Invitation.objects.values()) == rows
    with pytest.raises(InvitationNotValid):
        accept_invitation(key, actor=world.gina)


@pytest.mark.parametrize("body", [{}, {"key": ""}, {"key": "x" * 101}])
def test_accepting_without_a_usable_key_is_invalid_input(world, api, body):
    response = api(world.gina).post(f"{API}/invitations/accept/", body, "json")
    assert_error(response, 400, "invalid")


def test_accepting_needs_an_account(world):
    _, key = invite(world)
    response = APIClient().post(f"{API}/invitations/accept/", {"key": key}, "json")
    assert_error(response, 401, "not_authenticated")
    assert Invitation.objects.get().status == "pending"


# --- who invites -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "role", "status"),
    [
        ("alice", "owner", 201),
        ("alice", "admin", 201),
        ("adam", "admin", 201),
        ("adam", "viewer", 201),
        ("adam", "owner", 403),
        ("bob", "member", 403),
        ("victor", "viewer", 403),
        ("gina", "member", 404),
    ],
)
def test_only_managers_invite_and_only_owners_invite_owners(world, api, who, role, status):
    before = Invitation.objects.count()
    response = api(getattr(world, who)).post(
        f"{API}/orgs/acme/invitations/", {"role": role}, "json"
    )
    assert response.status_code == status, response.content
    assert Invitation.objects.count() == before + (status == 201)


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "role"),
        ({"role": "king"}, "role"),
        ({"role": "member", "email": "not-an-email"}, "email"),
    ],
)
def test_an_invitation_with_invalid_input_is_refused(world, api, payload, field):
    response = api(world.alice).post(f"{API}/orgs/acme/invitations/", payload, "json")
    body = assert_error(response, 400, "invalid")
    assert field in body["fields"]
    assert not Invitation.objects.exists()


def test_the_services_check_the_same_rules(world):
    with pytest.raises(Forbidden):
        create_invitation(world.acme, role=Role.OWNER, actor=world.adam)
    with pytest.raises(Forbidden):
        create_invitation(world.acme, role=Role.MEMBER, actor=world.bob)
    with pytest.raises(Forbidden):
        create_invitation(world.acme, role=Role.MEMBER, actor=world.gina)
    with pytest.raises(InvalidInput):
        create_invitation(world.acme, role="king", actor=world.alice)
    invitation, _ = invite(world)
    with pytest.raises(Forbidden):
        revoke_invitation(invitation, actor=world.bob)
    assert not Invitation.objects.exclude(pk=invitation.pk).exists()


# --- listing and revoking --------------------------------------------------------------------


def test_managers_list_invitations_with_their_status_and_never_a_key(world, api):
    # given: one of each
    pending, _ = invite(world, email="p@example.com")
    accepted, key = invite(world)
    accept_invitation(key, actor=world.gina)
    revoked, _ = invite(world)
    revoke_invitation(revoked, actor=world.alice)
    expired, _ = invite(world)
    _expire(expired)
    create_invitation(world.globex, role=Role.MEMBER, actor=world.gina)

    # when
    response = api(world.adam).get(f"{API}/orgs/acme/invitations/")

    # then
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 4
    statuses = {i["id"]: i["status"] for i in body["results"]}
    assert statuses == {
        pending.pk: "pending",
        accepted.pk: "accepted",
        revoked.pk: "revoked",
        expired.pk: "expired",
    }
    for item in body["results"]:
        assert set(item) == {"id", "role", "email", "expires_at", "created_at", "status"}
    assert_error(api(world.bob).get(f"{API}/orgs/acme/invitations/"), 403, "permission_denied")


def test_a_revoked_invitation_no_longer_lets_anyone_in(world, api):
    invitation, key = invite(world)
    url = f"{API}/orgs/acme/invitations/{invitation.pk}/"
    assert api(world.adam).delete(url).status_code == 204
    assert api(world.adam).delete(url).status_code == 204  # twice is no error
    invitation.refresh_from_db()
    assert invitation.status == "revoked"
    response = api(world.gina).post(f"{API}/invitations/accept/", {"key": key}, "json")
    assert_error(response, 404, "invitation_not_valid")
    assert "gina" not in members_of(world.acme)


def test_an_accepted_invitation_cannot_be_revoked(world, api):
    invitation, key = invite(world)
    accept_invitation(key, actor=world.gina)
    response = api(world.alice).delete(f"{API}/orgs/acme/invitations/{invitation.pk}/")
    assert_error(response, 409, "conflict")
    invitation.refresh_from_db()
    assert invitation.revoked_at is None and invitation.status == "accepted"


def test_only_managers_revoke(world, api):
    invitation, _ = invite(world)
    url = f"{API}/orgs/acme/invitations/{invitation.pk}/"
    assert_error(api(world.bob).delete(url), 403, "permission_denied")
    assert_error(api(world.gina).delete(url), 404, "not_found")
    assert_error(api(world.alice).delete(f"{API}/orgs/acme/invitations/999999/"), 404, "not_found")
    invitation.refresh_from_db()
    assert invitation.status == "pending"


def test_the_database_refuses_an_invitation_both_accepted_and_revoked_or_of_no_role(world):
    from django.db import IntegrityError

    invitation, _ = invite(world)
    now = timezone.now()
    for change in (
        {"accepted_at": now, "revoked_at": now},
        {"role": "king"},
        {"accepted_by": world.gina},
        {"expires_at": invitation.created_at},
    ):
        with pytest.raises(IntegrityError), transaction.atomic():
            Invitation.objects.filter(pk=invitation.pk).update(**change)


# --- signing up with an invitation -----------------------------------------------------------


def test_signing_up_with_an_invitation_creates_the_account_and_joins(world):
    invitation, key = invite(world, role=Role.VIEWER)
    membership = sign_up_with_invitation(key, username="nora", password="a-long-Passphrase-42")
    nora = User.objects.get(username="nora")
    assert membership.user == nora and nora.check_password("a-long-Passphrase-42")
    assert members_of(world.acme)["nora"] == "viewer"
    invitation.refresh_from_db()
    assert invitation.accepted_by == nora


@pytest.mark.parametrize(
    ("username", "password", "error", "field"),
    [
        ("nora", "short", InvalidInput, "password"),
        ("nora", "password", InvalidInput, "password"),
        ("nora", "12345678901", InvalidInput, "password"),
        ("", "a-long-Passphrase-42", InvalidInput, "username"),
        ("no ra!", "a-long-Passphrase-42", InvalidInput, "username"),
        ("BOB", "a-long-Passphrase-42", Conflict, "username"),
    ],
)
def test_signing_up_with_a_bad_password_or_a_taken_username_changes_nothing(
    world, username, password, error, field
):
    invitation, key = invite(world)
    before = (accounts_state(), User.objects.count())
    with pytest.raises(error) as raised:
        sign_up_with_invitation(key, username=username, password=password)
    assert field in raised.value.fields
    assert (accounts_state(), User.objects.count()) == before
    invitation.refresh_from_db()
    assert invitation.status == "pending"


def test_signing_up_with_a_bad_key_says_nothing_about_the_username(world):
    invitation, key = invite(world)
    revoke_invitation(invitation, actor=world.alice)
    for username in ("bob", "someone-new"):
        with pytest.raises(InvitationNotValid):
            sign_up_with_invitation(key, username=username, password="a-long-Passphrase-42")
    assert not User.objects.filter(username="someone-new").exists()


# --- changing and removing members -----------------------------------------------------------


def member_url(world, user, slug: str = "acme") -> str:
    return f"{API}/orgs/{slug}/members/{user.pk}/"


@pytest.fixture
def published(monkeypatch):
    """Channel-layer messages published on commit, as (group, message)."""
    sent = []
    monkeypatch.setattr("kanban.publisher.send_message", lambda g, m: sent.append((g, m)))
    return sent


def test_a_manager_removes_a_member_whose_team_places_there_go_and_sockets_close(
    world, api, published, django_capture_on_commit_callbacks
):
    # given: bob is also in Globex, on one of its teams
    _, key = create_invitation(world.globex, role=Role.MEMBER, actor=world.gina)
    accept_invitation(key, actor=world.bob)
    ops = TeamFactory(organization=world.globex, name="Ops 2", slug="ops-2")
    TeamMembership.objects.create(team=ops, user=world.bob)

    # when
    with django_capture_on_commit_callbacks(execute=True):
        response = api(world.adam).delete(member_url(world, world.bob))

    # then
    assert response.status_code == 204
    assert "bob" not in members_of(world.acme)
    assert list(TeamMembership.objects.filter(user=world.bob).values_list("team", flat=True)) == [
        ops.pk
    ]
    assert published == [
        (f"user.{world.bob.pk}", {"type": "access.revoked", "organization": world.acme.pk})
    ]
    assert members_of(world.globex)["bob"] == "member"
    assert_error(api(world.bob).get(f"{API}/boards/{world.board.pk}/"), 404, "not_found")


def test_a_member_leaves(world, api):
    response = api(world.mia).delete(member_url(world, world.mia))
    assert response.status_code == 204
    assert "mia" not in members_of(world.acme)
    assert not TeamMembership.objects.filter(user=world.mia).exists()


@pytest.mark.parametrize(
    ("who", "whom", "status", "code"),
    [
        ("bob", "mia", 403, "permission_denied"),
        ("victor", "bob", 403, "permission_denied"),
        ("adam", "alice", 403, "permission_denied"),
        ("alice", "alice", 409, "conflict"),
        ("adam", "adam", 204, None),
        ("alice", "adam", 204, None),
        ("gina", "bob", 404, "not_found"),
    ],
)
def test_member_removal_follows_the_owner_rules(world, api, who, whom, status, code):
    before = accounts_state()
    response = api(getattr(world, who)).delete(member_url(world, getattr(world, whom)))
    assert response.status_code == status, response.content
    if code:
        assert_error(response, status, code)
        assert accounts_state() == before
    else:
        assert whom not in members_of(world.acme)


def test_an_owner_removes_another_owner_and_may_leave_once_there_is_another(world, api):
    services.change_member(
        Membership.objects.get(user=world.adam), role=Role.OWNER, actor=world.alice
    )
    assert api(world.adam).delete(member_url(world, world.alice)).status_code == 204
    assert_error(api(world.adam).delete(member_url(world, world.adam)), 409, "conflict")
    assert members_of(world.acme)["adam"] == "owner"


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_a_user_who_is_not_a_member_is_not_found_like_a_missing_id(world, api, method):
    before = accounts_state()
    answers = [
        getattr(api(world.alice), method)(f"{API}/orgs/acme/members/{user_id}/", {}, "json")
        for user_id in (world.gina.pk, 999999)
    ]
    assert [a.status_code for a in answers] == [404, 404]
    assert answers[0].json() == answers[1].json()
    assert accounts_state() == before


def test_the_schema_describes_invitations_and_no_longer_a_post_of_members(world, client):
    paths = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()[
        "paths"
    ]
    assert set(paths[f"{API}/orgs/{{slug}}/invitations/"]) == {"get", "post"}
    assert set(paths[f"{API}/orgs/{{slug}}/invitations/{{invitation_id}}/"]) == {"delete"}
    assert set(paths[f"{API}/invitations/accept/"]) == {"post"}
    assert set(paths[f"{API}/orgs/{{slug}}/members/{{user_id}}/"]) == {"get", "patch", "delete"}
    assert set(paths[f"{API}/orgs/{{slug}}/members/"]) == {"get"}


# --- another organisation's objects ----------------------------------------------------------


def test_every_new_endpoint_answers_404_for_another_organisations_objects(world, api):
    # given: an invitation of each organisation, and a Globex member who is not in Acme
    acme_invitation, _ = invite(world)
    globex_invitation, _ = create_invitation(world.globex, role=Role.MEMBER, actor=world.gina)
    calls = {
        "alice": [
            ("get", f"{API}/orgs/globex/invitations/", None),
            ("post", f"{API}/orgs/globex/invitations/", {"role": "member"}),
            ("delete", f"{API}/orgs/globex/invitations/{globex_invitation.pk}/", None),
            ("delete", f"{API}/orgs/acme/invitations/{globex_invitation.pk}/", None),
            ("get", member_url(world, world.gina, "globex"), None),
            ("patch", member_url(world, world.gina, "globex"), {"role": "viewer"}),
            ("delete", member_url(world, world.gina, "globex"), None),
            ("get", member_url(world, world.gina), None),
            ("patch", member_url(world, world.gina), {"role": "viewer"}),
            ("delete", member_url(world, world.gina), None),
        ],
        "gina": [
            ("get", f"{API}/orgs/acme/invitations/", None),
            ("post", f"{API}/orgs/acme/invitations/", {"role": "member"}),
            ("delete", f"{API}/orgs/acme/invitations/{acme_invitation.pk}/", None),
            ("delete", f"{API}/orgs/globex/invitations/{acme_invitation.pk}/", None),
            ("get", member_url(world, world.bob), None),
            ("patch", member_url(world, world.bob), {"role": "viewer"}),
            ("delete", member_url(world, world.bob), None),
            ("patch", member_url(world, world.bob, "globex"), {"role": "viewer"}),
            ("delete", member_url(world, world.bob, "globex"), None),
        ],
    }
    before = (accounts_state(), list(Invitation.objects.values()))

    # when
    got = {
        f"{who} {method} {path}": getattr(api(getattr(world, who)), method)(path, body, "json")
        for who, who_calls in calls.items()
        for method, path, body in who_calls
    }

    # then
    assert {call: (r.status_code, r.json()["code"]) for call, r in got.items()} == dict.fromkeys(
        got, (404, "not_found")
    )
    assert (accounts_state(), list(Invitation.objects.values())) == before


# --- the invitation page ---------------------------------------------------------------------


def page(key: str) -> str:
    return f"/invitations/{key}/"


def test_the_page_shows_the_organisation_role_and_email_and_offers_log_in_or_sign_up(world, client):
    _, key = invite(world, role=Role.VIEWER, email="nora@example.com")
    response = client.get(page(key))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Join Acme" in html and "Viewer" in html and "nora@example.com" in html
    assert f'href="/accounts/login/?next=%2Finvitations%2F{key}%2F"' in html
    assert "Log in to accept" in html
    assert 'name="password2"' in html and 'value="sign-up"' in html
    assert "no-store" in response["Cache-Control"]


def test_logging_in_from_the_page_comes_back_to_it(world, client):
    _, key = invite(world)
    response = client.post(
        "/accounts/login/", {"username": "gina", "password": "pw", "next": page(key)}
    )
    assert response.status_code == 302 and response["Location"] == page(key)


def test_a_logged_in_user_joins_with_the_button_and_lands_on_the_organisation(world, client):
    # given
    invitation, key = invite(world, role=Role.MEMBER)
    client.force_login(world.gina)
    html = client.get(page(key)).content.decode()
    assert 'value="join"' in html and "Join Acme</button>" in html
    assert "Search Globex" in html and "Search Acme" not in html  # not hers yet

    # when
    response = client.post(page(key), {"action": "join"}, follow=True)

    # then
    assert response.redirect_chain == [("/o/acme/", 302)]
    assert response.status_code == 200
    assert "Welcome to Acme." in response.content.decode()
    assert members_of(world.acme)["gina"] == "member"
    invitation.refresh_from_db()
    assert invitation.accepted_by == world.gina


def test_the_join_button_needs_the_csrf_token(world):
    from django.test import Client

    _, key = invite(world)
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.gina)
    response = client.post(page(key), {"action": "join"})
    assert response.status_code == 403
    assert "gina" not in members_of(world.acme)


def test_a_member_sees_they_are_in_already_and_no_join_button(world, client):
    _, key = invite(world, role=Role.ADMIN)
    client.force_login(world.bob)
    html = client.get(page(key)).content.decode()
    assert "already a member of Acme" in html and 'value="join"' not in html
    assert Invitation.objects.get().status == "pending"


def test_joining_while_logged_out_sends_to_the_login(world, client):
    _, key = invite(world)
    response = client.post(page(key), {"action": "join"})
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next=%2Finvitations%2F{key}%2F"
    assert Invitation.objects.get().status == "pending"


def test_signing_up_on_the_page_creates_the_account_logs_in_and_joins(world, client):
    invitation, key = invite(world, role=Role.VIEWER)
    response = client.post(
        page(key),
        {
            "action": "sign-up",
            "username": "nora",
            "password1": "a-long-Passphrase-42",
            "password2": "a-long-Passphrase-42",
        },
        follow=True,
    )
    assert response.redirect_chain == [("/o/acme/", 302)]
    assert response.context["user"].username == "nora"
    assert members_of(world.acme)["nora"] == "viewer"
    invitation.refresh_from_db()
    assert invitation.accepted_by.username == "nora"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"username": "nora", "password1": "a-long-Passphrase-42", "password2": "other"}, "differ"),
        ({"username": "nora", "password1": "password", "password2": "password"}, "too common"),
        (
            {
                "username": "Bob",
                "password1": "a-long-Passphrase-42",
                "password2": "a-long-Passphrase-42",
            },
            "Taken.",
        ),
        ({"username": "", "password1": "x", "password2": "x"}, "required"),
    ],
)
def test_a_refused_sign_up_shows_why_and_changes_nothing(world, client, fields, message):
    _, key = invite(world)
    before = (accounts_state(), User.objects.count())
    response = client.post(page(key), {"action": "sign-up", **fields})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert (accounts_state(), User.objects.count()) == before
    assert Invitation.objects.get().status == "pending"


@pytest.mark.parametrize("state", ["unknown", "expired", "revoked", "used"])
def test_an_invalid_key_shows_a_readable_page_with_a_way_back(world, client, state):
    invitation, key = invite(world)
    if state == "unknown":
        key = "not-a-key"
    elif state == "expired":
        _expire(invitation)
    elif state == "revoked":
        revoke_invitation(invitation, actor=world.alice)
    else:
        accept_invitation(key, actor=world.gina)
    for response in (client.get(page(key)), client.post(page(key), {"action": "join"})):
        assert response.status_code == 404
        html = response.content.decode()
        assert "This invitation is not valid" in html and 'href="/"' in html
        assert "Acme" not in html


def test_the_accept_url_of_the_api_opens_the_page(world, api, client):
    body = api(world.alice).post(f"{API}/orgs/acme/invitations/", {"role": "member"}, "json")
    path = body.json()["accept_url"].removeprefix("http://testserver")
    assert client.get(path).status_code == 200


# --- the admin -------------------------------------------------------------------------------


@pytest.fixture
def staff_client(client):
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    return client


def test_deleting_a_membership_in_the_admin_removes_the_member_through_the_service(
    world, staff_client, published, django_capture_on_commit_callbacks
):
    membership = Membership.objects.get(user=world.bob)
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            f"/admin/accounts/membership/{membership.pk}/delete/", {"post": "yes"}
        )
    assert response.status_code == 302
    assert "bob" not in members_of(world.acme)
    assert not TeamMembership.objects.filter(user=world.bob).exists()
    assert published == [
        (f"user.{world.bob.pk}", {"type": "access.revoked", "organization": world.acme.pk})
    ]


def test_the_admin_cannot_delete_the_last_owner_and_says_so(world, staff_client):
    membership = Membership.objects.get(user=world.alice)
    response = staff_client.post(
        f"/admin/accounts/membership/{membership.pk}/delete/", {"post": "yes"}, follow=True
    )
    assert members_of(world.acme)["alice"] == "owner"
    assert "was not removed" in response.content.decode()
    assert "deleted successfully" not in response.content.decode()


def test_the_admin_bulk_delete_of_memberships_goes_through_the_service(
    world, staff_client, published, django_capture_on_commit_callbacks
):
    ids = list(
        Membership.objects.filter(user__in=[world.mia, world.alice]).values_list("pk", flat=True)
    )
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(
            "/admin/accounts/membership/",
            {"action": "delete_selected", "_selected_action": ids, "post": "yes"},
        )
    assert "mia" not in members_of(world.acme)
    assert members_of(world.acme)["alice"] == "owner"  # the last owner stays
    assert published == [
        (f"user.{world.mia.pk}", {"type": "access.revoked", "organization": world.acme.pk})
    ]


def test_the_organisation_admin_offers_no_membership_deletion(world, staff_client):
    from accounts.admin import MembershipInline

    assert MembershipInline.can_delete is False
    html = staff_client.get(f"/admin/accounts/organization/{world.acme.pk}/change/").content
    assert b"memberships-0-DELETE" not in html


def test_the_invitation_admin_lists_and_revokes(world, staff_client):
    pending, _ = invite(world, email="p@example.com")
    accepted, key = invite(world)
    accept_invitation(key, actor=world.gina)
    listing = staff_client.get("/admin/accounts/invitation/").content.decode()
    assert "p@example.com" in listing and "Pending" in listing and "Accepted" in listing
    staff_client.post(
        "/admin/accounts/invitation/",
        {"action": "revoke", "_selected_action": [pending.pk, accepted.pk]},
    )
    pending.refresh_from_db()
    accepted.refresh_from_db()
    assert (pending.status, accepted.status) == ("revoked", "accepted")
    assert staff_client.get("/admin/accounts/invitation/add/").status_code == 403


def test_staff_without_the_site_permission_take_nobody_out(world):
    clerk = User.objects.create_user("clerk", password="pw", is_staff=True)
    with pytest.raises(Forbidden):
        remove_member(Membership.objects.get(user=world.bob), actor=clerk)
    with pytest.raises(Forbidden):
        revoke_invitation(invite(world)[0], actor=clerk)
    assert "bob" in members_of(world.acme)


# --- races on Postgres -----------------------------------------------------------------------

JOIN_TIMEOUT = 30


def run_together(*workers):
    """Run each worker in its own thread with its own connection, released together by a
    barrier; return (value, error) per worker."""
    barrier = threading.Barrier(len(workers))
    outcomes: list[list] = [[None, None] for _ in workers]

    def run(i, work):
        try:
            connection.ensure_connection()
            barrier.wait(timeout=JOIN_TIMEOUT)
            outcomes[i][0] = work()
        except BaseException as exc:
            outcomes[i][1] = exc
        finally:
            connection.close()

    connection.close()  # the test's own connection goes back to the pool for the workers
    threads = [threading.Thread(target=run, args=(i, w)) for i, w in enumerate(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN_TIMEOUT)
    assert not any(t.is_alive() for t in threads), "a worker hung"
    return [tuple(o) for o in outcomes]


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_two_accepts_of_one_key_at_once_make_exactly_one_membership(world):
    # given: two people with the same link
    invitation, key = invite(world)
    nora = UserFactory(username="nora")

    # when
    outcomes = run_together(
        lambda: accept_invitation(key, actor=world.gina),
        lambda: accept_invitation(key, actor=nora),
    )

    # then
    assert sorted(type(error).__name__ for _, error in outcomes) == [
        "InvitationNotValid",
        "NoneType",
    ]
    joined = Membership.objects.filter(organization=world.acme, user__in=[world.gina, nora])
    assert joined.count() == 1
    invitation.refresh_from_db()
    assert invitation.accepted_by_id == joined.get().user_id


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_an_accept_that_comes_while_another_is_uncommitted_waits_and_finds_the_key_used(world):
    # given: the first accept holds the invitation's row and has not committed yet
    _, key = invite(world)
    nora = UserFactory(username="nora")
    first_in = threading.Event()

    def first():
        with transaction.atomic():
            accept_invitation(key, actor=world.gina)
            first_in.set()
            time.sleep(0.5)  # the second accept starts meanwhile

    def second():
        assert first_in.wait(JOIN_TIMEOUT)
        return accept_invitation(key, actor=nora)

    # when
    (_, first_error), (_, second_error) = run_together(first, second)

    # then: without the row lock the second would have read the row as pending and joined too
    assert first_error is None
    assert isinstance(second_error, InvitationNotValid)
    assert members_of(world.acme).get("gina") == "member" and "nora" not in members_of(world.acme)


@pytest.mark.concurrency
@pytest.mark.django_db(transaction=True)
def test_two_owners_leaving_at_once_leave_one_owner(world):
    services.change_member(
        Membership.objects.get(user=world.adam), role=Role.OWNER, actor=world.alice
    )
    alice = Membership.objects.get(user=world.alice)
    adam = Membership.objects.get(user=world.adam)

    outcomes = run_together(
        lambda: remove_member(alice, actor=world.alice),
        lambda: remove_member(adam, actor=world.adam),
    )

    assert sorted(type(e).__name__ for _, e in outcomes) == ["Conflict", "NoneType"]
    assert list(members_of(world.acme).values()).count("owner") == 1


# --- removal closes the removed user's websockets --------------------------------------------


class Websocket(ApplicationCommunicator):
    """A websocket to the ASGI application, in process: what channels.testing's
    WebsocketCommunicator does (that package imports daphne, a server Obeya does not use)."""

    def __init__(self, application, path: str, headers: list[tuple[bytes, bytes]]) -> None:
        scope = {
            "type": "websocket",
            "path": path,
            "query_string": b"",
            "headers": headers,
            "subprotocols": [],
        }
        super().__init__(application, scope)

    async def connect(self, timeout: float) -> bool:
        await self.send_input({"type": "websocket.connect"})
        return (await self.receive_output(timeout))["type"] == "websocket.accept"

    async def send_json_to(self, data: dict) -> None:
        await self.send_input({"type": "websocket.receive", "text": json.dumps(data)})

    async def disconnect(self) -> None:
        await self.send_input({"type": "websocket.disconnect", "code": 1000})
        await self.wait(5)


async def _next(communicator, want, timeout: float = 10.0) -> dict:
    """The first output of the socket for which `want` holds (presence updates come between)."""
    deadline = time.monotonic() + timeout
    while True:
        output = await communicator.receive_output(max(deadline - time.monotonic(), 0.01))
        if want(output):
            return output


def _json(output) -> dict:
    return json.loads(output["text"]) if output.get("type") == "websocket.send" else {}


@pytest.mark.django_db(transaction=True)
def test_removing_bob_closes_his_socket_on_acme_boards_and_not_on_globex(world):
    # given: bob in Globex too (by invitation), watching a board of each with a token
    from kanban.asgi import application

    _, key = create_invitation(world.globex, role=Role.VIEWER, actor=world.gina)
    accept_invitation(key, actor=world.bob)
    _, token = create_api_token(user=world.bob)
    headers = [(b"authorization", f"Token {token}".encode())]
    membership = Membership.objects.get(organization=world.acme, user=world.bob)

    def remove():
        try:
            remove_member(membership, actor=world.alice)
        finally:
            connection.close()

    async def scenario():
        acme = Websocket(application, f"/ws/boards/{world.board.pk}/", headers)
        globex = Websocket(application, f"/ws/boards/{world.globex_board.pk}/", headers)
        for socket in (acme, globex):
            assert await socket.connect(timeout=10)
            assert await _next(socket, lambda o: _json(o).get("type") == "hello")

        # when: alice removes him from Acme (committed in another thread)
        await asyncio.to_thread(remove)

        # then: the Acme socket closes as unauthenticated; the Globex one still answers
        closed = await _next(acme, lambda o: o["type"] == "websocket.close")
        await asyncio.sleep(0.3)  # the same message reached the Globex socket, which ignored it
        await globex.send_json_to({"type": "ping"})
        pong = _json(await _next(globex, lambda o: _json(o).get("type") == "pong"))
        await globex.disconnect()
        await acme.disconnect()
        return closed, pong

    closed, pong = asyncio.run(scenario())
    assert closed == {"type": "websocket.close", "code": 4401}
    assert pong["type"] == "pong"
