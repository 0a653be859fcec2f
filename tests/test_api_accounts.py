"""The REST API for tokens, the user, organisations, teams and members; authentication by token
and by session (with CSRF)."""

import pytest
from django.db import transaction
from django.middleware.csrf import _get_new_csrf_string
from rest_framework.test import APIClient

from accounts.models import (
    ApiToken,
    Invitation,
    Membership,
    Organization,
    Role,
    Team,
    TeamMembership,
)
from accounts.services import create_api_token, revoke_api_token
from boards.models import Board
from tests.clients import client_for

pytestmark = pytest.mark.django_db

API = "/api/v1"


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code, body
    assert isinstance(body["detail"], str) and body["detail"]
    return body


def accounts_state() -> tuple:
    return (
        list(Organization.objects.order_by("pk").values_list("pk", "slug")),
        list(Membership.objects.order_by("pk").values_list("pk", "user_id", "role", "wip_limit")),
        list(Team.objects.order_by("pk").values_list("pk", "slug")),
        TeamMembership.objects.count(),
        list(Invitation.objects.order_by("pk").values_list("pk", "role", "revoked_at")),
    )


# --- the permission matrix -------------------------------------------------------------------

ACTORS = ["alice", "adam", "bob", "mia", "victor", "gina", "anonymous", "bad_token"]
MEMBERS = {"alice", "adam", "bob", "mia", "victor"}
MANAGERS = {"alice", "adam"}

# (name, method, path, body, who may: "member" reads, "manager" writes); {victor} in a path is
# that user's id
ACME_ENDPOINTS = [
    ("org-get", "get", f"{API}/orgs/acme/", None, "member", 200),
    ("team-list", "get", f"{API}/orgs/acme/teams/", None, "member", 200),
    ("team-create", "post", f"{API}/orgs/acme/teams/", {"name": "Support"}, "manager", 201),
    ("member-list", "get", f"{API}/orgs/acme/members/", None, "member", 200),
    ("member-get", "get", f"{API}/orgs/acme/members/{{victor}}/", None, "member", 200),
    (
        "member-change",
        "patch",
        f"{API}/orgs/acme/members/{{victor}}/",
        {"role": "member"},
        "manager",
        200,
    ),
    ("invitation-list", "get", f"{API}/orgs/acme/invitations/", None, "manager-read", 200),
    (
        "invitation-create",
        "post",
        f"{API}/orgs/acme/invitations/",
        {"role": "member", "email": "someone@example.com"},
        "manager",
        201,
    ),
]


def expected(who: str, needs: str, ok: int) -> tuple[int, str | None, bool]:
    if who == "anonymous":
        return 401, "not_authenticated", False
    if who == "bad_token":
        return 401, "authentication_failed", False
    if who not in MEMBERS:
        return 404, "not_found", False  # another organisation does not exist for gina
    if needs.startswith("manager") and who not in MANAGERS:
        return 403, "permission_denied", False
    return ok, None, needs == "manager"


@pytest.mark.parametrize("endpoint", ACME_ENDPOINTS, ids=lambda e: e[0])
def test_accounts_permission_matrix(world, api, endpoint):
    """Members read their organisation; owners and admins manage it; another organisation's
    user gets 404; no or a wrong token 401. A refused call changes nothing."""
    _, method, path, body, needs, ok = endpoint
    path = path.format(victor=world.victor.pk)
    got, want = {}, {}
    for who in ACTORS:
        client = client_for(who, world, api)
        with transaction.atomic():  # rolled back: every user meets the same organisation
            before = accounts_state()
            response = getattr(client, method)(path, body, format="json")
            code = response.json()["code"] if response.status_code >= 400 else None
            got[who] = (response.status_code, code, accounts_state() != before)
            transaction.set_rollback(True)
        want[who] = expected(who, needs, ok)
    assert got == want


@pytest.mark.parametrize(
    ("header", "code"),
    [
        (None, "not_authenticated"),
        ("Token not-a-real-key", "authentication_failed"),
        ("Token two parts", "authentication_failed"),
        ("Token", "authentication_failed"),
    ],
)
def test_accounts_endpoints_need_valid_credentials(world, header, code):
    # given
    client = APIClient()
    if header:
        client.credentials(HTTP_AUTHORIZATION=header)
    calls = [
        ("get", f"{API}/me/"),
        ("get", f"{API}/orgs/"),
        ("post", f"{API}/orgs/"),
        ("get", f"{API}/orgs/acme/"),
        ("get", f"{API}/orgs/acme/teams/"),
        ("post", f"{API}/orgs/acme/teams/"),
        ("get", f"{API}/orgs/acme/members/"),
        ("post", f"{API}/orgs/acme/members/"),
        ("patch", f"{API}/orgs/acme/members/{world.bob.pk}/"),
        ("delete", f"{API}/orgs/acme/members/{world.bob.pk}/"),
        ("get", f"{API}/orgs/acme/invitations/"),
        ("post", f"{API}/orgs/acme/invitations/"),
        ("post", f"{API}/invitations/accept/"),
    ]
    before = accounts_state()

    # when
    answers = {
        f"{method} {path}": getattr(client, method)(
            path, {"name": "X", "username": "gina", "role": "owner", "key": "k"}, format="json"
        )
        for method, path in calls
    }

    # then
    got = {
        call: (r.status_code, r.json()["code"], r.get("WWW-Authenticate"))
        for call, r in answers.items()
    }
    assert got == dict.fromkeys(answers, (401, code, "Token"))
    assert accounts_state() == before


def test_a_revoked_token_no_longer_works(world, api):
    token, key = create_api_token(user=world.bob, name="script")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get(f"{API}/me/").status_code == 200
    revoke_api_token(token, actor=world.bob)
    assert_error(client.get(f"{API}/me/"), 401, "authentication_failed")


def test_the_token_of_a_deactivated_user_no_longer_works(world):
    _, key = create_api_token(user=world.bob)
    world.bob.is_active = False
    world.bob.save(update_fields=["is_active"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert_error(client.get(f"{API}/me/"), 401, "authentication_failed")


# --- token -----------------------------------------------------------------------------------


def test_the_token_endpoint_returns_a_working_token_stored_hashed(world):
    # when
    response = APIClient().post(
        f"{API}/auth/token/", {"username": "bob", "password": "pw", "name": "ci"}, format="json"
    )

    # then
    assert response.status_code == 201, response.content
    key = response.json()["token"]
    assert set(response.json()) == {"token"}
    token = ApiToken.objects.get(user=world.bob)
    assert token.name == "ci" and token.key_hash != key and key not in token.key_hash
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    me = client.get(f"{API}/me/")
    assert me.status_code == 200 and me.json()["username"] == "bob"


@pytest.mark.parametrize(
    "credentials",
    [
        {"username": "bob", "password": "wrong"},
        {"username": "nobody", "password": "pw"},
        {"username": "BOB", "password": "pw"},
        {"username": "bob", "password": "pw "},
    ],
)
def test_the_token_endpoint_refuses_wrong_credentials(world, credentials):
    response = APIClient().post(f"{API}/auth/token/", credentials, format="json")
    assert_error(response, 400, "invalid_credentials")
    assert not ApiToken.objects.exists()


def test_the_token_endpoint_refuses_an_inactive_user(world):
    world.bob.is_active = False
    world.bob.save(update_fields=["is_active"])
    response = APIClient().post(
        f"{API}/auth/token/", {"username": "bob", "password": "pw"}, format="json"
    )
    assert_error(response, 400, "invalid_credentials")


@pytest.mark.parametrize(
    ("payload", "field"),
    [({"username": "bob"}, "password"), ({"password": "pw"}, "username"), ({}, "username")],
)
def test_the_token_endpoint_validates_its_input(world, payload, field):
    response = APIClient().post(f"{API}/auth/token/", payload, format="json")
    body = assert_error(response, 400, "invalid")
    assert field in body["fields"]


def test_the_token_endpoint_ignores_a_bad_token_header(world):
    # It authenticates by password: a stale token in the client must not lock the user out.
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token stale")
    response = client.post(f"{API}/auth/token/", {"username": "bob", "password": "pw"}, "json")
    assert response.status_code == 201


def test_password_guessing_is_throttled_with_a_429(world, settings):
    # given: a limit of 2 tries a minute from one address
    settings.LOGIN_RATE = "2/min"
    client = APIClient()
    wrong = {"username": "bob", "password": "guess"}

    # when
    answers = [client.post(f"{API}/auth/token/", wrong, format="json") for _ in range(3)]

    # then
    assert [a.status_code for a in answers] == [400, 400, 429]
    assert_error(answers[2], 429, "throttled")
    assert int(answers[2]["Retry-After"]) > 0


# --- me --------------------------------------------------------------------------------------


def test_me_shows_the_user_and_their_organisations_with_roles(world, api):
    # given: alice is also a viewer of Globex
    Membership.objects.create(organization=world.globex, user=world.alice, role=Role.VIEWER)

    # when
    response = api(world.alice).get(f"{API}/me/")

    # then
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"id", "username", "name", "email", "organizations"}
    assert (body["id"], body["username"], body["email"]) == (
        world.alice.pk,
        "alice",
        "alice@example.com",
    )
    assert body["name"] == world.alice.display_name
    roles = {o["slug"]: (o["name"], o["role"]) for o in body["organizations"]}
    assert roles == {"acme": ("Acme", "owner"), "globex": ("Globex", "viewer")}


@pytest.mark.parametrize(
    ("who", "role"), [("adam", "admin"), ("mia", "member"), ("victor", "viewer")]
)
def test_me_shows_each_role(world, api, who, role):
    body = api(getattr(world, who)).get(f"{API}/me/").json()
    assert [(o["slug"], o["role"]) for o in body["organizations"]] == [("acme", role)]


# --- organisations ---------------------------------------------------------------------------


def test_the_organisation_list_holds_only_my_organisations(world, api):
    response = api(world.bob).get(f"{API}/orgs/")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1 and body["next"] is None
    assert body["results"] == [
        {"id": world.acme.pk, "name": "Acme", "slug": "acme", "role": "member"}
    ]
    assert [o["slug"] for o in api(world.gina).get(f"{API}/orgs/").json()["results"]] == ["globex"]


def test_creating_an_organisation_makes_its_creator_the_owner(world, api):
    response = api(world.bob).post(f"{API}/orgs/", {"name": "Bob & Co"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    organization = Organization.objects.get(slug="bob-co")
    assert body == {"id": organization.pk, "name": "Bob & Co", "slug": "bob-co", "role": "owner"}
    membership = Membership.objects.get(organization=organization)
    assert (membership.user_id, membership.role) == (world.bob.pk, "owner")
    assert api(world.bob).get(f"{API}/orgs/bob-co/").json()["role"] == "owner"
    assert_error(api(world.alice).get(f"{API}/orgs/bob-co/"), 404, "not_found")


def test_an_organisation_slug_is_unique(world, api):
    before = accounts_state()
    response = api(world.bob).post(f"{API}/orgs/", {"name": "Acme", "slug": "acme"}, "json")
    assert_error(response, 409, "conflict")
    assert accounts_state() == before


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "!!!"}, "name"),
        ({"name": "x" * 121}, "name"),
        ({"name": "Ok", "slug": "not a slug"}, "slug"),
    ],
)
def test_creating_an_organisation_with_invalid_input_is_refused(world, api, payload, field):
    before = accounts_state()
    response = api(world.bob).post(f"{API}/orgs/", payload, format="json")
    body = assert_error(response, 400, "invalid")
    assert field in body["fields"]
    assert accounts_state() == before


@pytest.mark.parametrize(("who", "role"), [("alice", "owner"), ("victor", "viewer")])
def test_organisation_detail_shows_my_role(world, api, who, role):
    response = api(getattr(world, who)).get(f"{API}/orgs/acme/")
    assert response.json() == {"id": world.acme.pk, "name": "Acme", "slug": "acme", "role": role}


@pytest.mark.parametrize("suffix", ["", "teams/", "members/", "invitations/"])
def test_another_or_an_unknown_organisation_is_not_found(world, api, suffix):
    assert_error(api(world.alice).get(f"{API}/orgs/globex/{suffix}"), 404, "not_found")
    assert_error(api(world.gina).get(f"{API}/orgs/acme/{suffix}"), 404, "not_found")
    assert_error(api(world.alice).get(f"{API}/orgs/nowhere/{suffix}"), 404, "not_found")


@pytest.mark.parametrize(
    ("path", "body"),
    [("teams/", {"name": "Spies"}), ("invitations/", {"role": "owner"})],
)
def test_an_owner_cannot_write_to_another_organisation(world, api, path, body):
    before = accounts_state()
    response = api(world.alice).post(f"{API}/orgs/globex/{path}", body, format="json")
    assert_error(response, 404, "not_found")
    assert accounts_state() == before


# --- teams -----------------------------------------------------------------------------------


def test_teams_are_listed_with_their_members(world, api):
    response = api(world.victor).get(f"{API}/orgs/acme/teams/")
    assert response.status_code == 200
    teams = {t["slug"]: t for t in response.json()["results"]}
    assert set(teams) == {"sales", "product"}
    assert teams["sales"] == {
        "id": world.sales.pk,
        "organization": "acme",
        "name": "Sales",
        "slug": "sales",
        "members": sorted([world.bob.pk, world.victor.pk]),
    }
    assert teams["product"]["members"] == [world.mia.pk]


def test_an_admin_creates_a_team_with_members(world, api):
    response = api(world.adam).post(
        f"{API}/orgs/acme/teams/",
        {"name": "Customer Success", "members": [world.bob.pk, world.mia.pk]},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    team = Team.objects.get(pk=body["id"])
    assert (team.organization_id, team.slug) == (world.acme.pk, "customer-success")
    assert body["members"] == sorted([world.bob.pk, world.mia.pk])
    assert set(team.members.values_list("pk", flat=True)) == {world.bob.pk, world.mia.pk}


def test_a_team_member_from_another_organisation_is_refused(world, api):
    before = accounts_state()
    response = api(world.alice).post(
        f"{API}/orgs/acme/teams/", {"name": "Mixed", "members": [world.gina.pk]}, format="json"
    )
    body = assert_error(response, 400, "invalid")
    assert "members" in body["fields"]
    assert accounts_state() == before


def test_a_team_slug_is_unique_in_its_organisation(world, api):
    before = accounts_state()
    response = api(world.alice).post(
        f"{API}/orgs/acme/teams/", {"name": "Sales again", "slug": "sales"}, format="json"
    )
    assert_error(response, 409, "conflict")
    assert accounts_state() == before


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "name"),
        ({"name": "A", "members": "bob"}, "members"),
        ({"name": "A", "slug": "a b"}, "slug"),
    ],
)
def test_creating_a_team_with_invalid_input_is_refused(world, api, payload, field):
    before = accounts_state()
    response = api(world.alice).post(f"{API}/orgs/acme/teams/", payload, format="json")
    body = assert_error(response, 400, "invalid")
    assert field in body["fields"]
    assert accounts_state() == before


# --- members ---------------------------------------------------------------------------------


def test_members_are_listed_with_roles_and_wip_limits(world, api):
    Membership.objects.filter(user=world.bob).update(wip_limit=3)
    response = api(world.mia).get(f"{API}/orgs/acme/members/")
    assert response.status_code == 200
    members = {m["username"]: m for m in response.json()["results"]}
    assert {u: m["role"] for u, m in members.items()} == {
        "alice": "owner",
        "adam": "admin",
        "bob": "member",
        "mia": "member",
        "victor": "viewer",
    }
    assert members["bob"] == {
        "user": world.bob.pk,
        "username": "bob",
        "name": world.bob.display_name,
        "role": "member",
        "wip_limit": 3,
    }


def test_members_are_no_longer_added_by_username(world, api):
    """POST /members/ enrolled any user of any organisation without their consent, and told
    who exists: gone. Its 405 points at invitations, for everyone alike (nothing is looked
    up, so a foreign organisation answers the same)."""
    before = accounts_state()
    answers = [
        api(user).post(f"{API}/orgs/{slug}/members/", {"username": name, "role": "owner"}, "json")
        for user, slug, name in [
            (world.alice, "acme", "gina"),
            (world.alice, "acme", "nobody"),
            (world.gina, "acme", "gina"),
        ]
    ]
    for answer in answers:
        body = assert_error(answer, 405, "method_not_allowed")
        assert "/invitations/" in body["detail"]
        assert "POST" not in answer["Allow"]
    assert len({a.content.replace(b"globex", b"acme") for a in answers}) == 1
    assert accounts_state() == before


def member_url(world, who: str, slug: str = "acme") -> str:
    return f"{API}/orgs/{slug}/members/{getattr(world, who).pk}/"


def test_a_member_is_shown_by_user_id(world, api):
    Membership.objects.filter(user=world.bob).update(wip_limit=3)
    response = api(world.victor).get(member_url(world, "bob"))
    assert response.status_code == 200
    assert response.json() == {
        "user": world.bob.pk,
        "username": "bob",
        "name": world.bob.display_name,
        "role": "member",
        "wip_limit": 3,
    }


def test_an_owner_changes_a_members_role_and_wip_limit(world, api):
    response = api(world.alice).patch(
        member_url(world, "victor"), {"role": "member", "wip_limit": 2}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["role"] == "member" and response.json()["wip_limit"] == 2
    membership = Membership.objects.get(organization=world.acme, user=world.victor)
    assert (membership.role, membership.wip_limit) == ("member", 2)


def test_an_owner_makes_another_owner(world, api):
    response = api(world.alice).patch(member_url(world, "adam"), {"role": "owner"}, "json")
    assert response.status_code == 200
    assert Membership.objects.get(organization=world.acme, user=world.adam).role == "owner"


def test_an_admin_cannot_make_an_owner(world, api):
    before = accounts_state()
    response = api(world.adam).patch(member_url(world, "bob"), {"role": "owner"}, "json")
    assert_error(response, 403, "permission_denied")
    assert accounts_state() == before


@pytest.mark.parametrize("change", [{"role": "viewer"}, {"role": "admin"}])
def test_an_admin_cannot_demote_an_owner(world, api, change):
    before = accounts_state()
    response = api(world.adam).patch(member_url(world, "alice"), change, format="json")
    assert_error(response, 403, "permission_denied")
    assert accounts_state() == before


def test_the_last_owner_cannot_step_down(world, api):
    before = accounts_state()
    response = api(world.alice).patch(member_url(world, "alice"), {"role": "admin"}, "json")
    assert_error(response, 409, "conflict")
    assert accounts_state() == before


def test_an_owner_steps_down_once_there_is_another(world, api):
    api(world.alice).patch(member_url(world, "adam"), {"role": "owner"}, "json")
    response = api(world.alice).patch(member_url(world, "alice"), {"role": "admin"}, "json")
    assert response.status_code == 200
    assert Membership.objects.get(organization=world.acme, user=world.alice).role == "admin"


def test_a_member_or_viewer_cannot_change_roles(world, api):
    before = accounts_state()
    for who in ("bob", "victor"):
        response = api(getattr(world, who)).patch(
            member_url(world, who), {"role": "admin"}, format="json"
        )
        assert_error(response, 403, "permission_denied")
    assert accounts_state() == before


def test_changing_a_role_keeps_the_personal_wip_limit_unless_given(world, api):
    Membership.objects.filter(user=world.bob).update(wip_limit=3)
    response = api(world.alice).patch(member_url(world, "bob"), {"role": "admin"}, "json")
    assert response.status_code == 200
    assert response.json()["wip_limit"] == 3
    response = api(world.alice).patch(member_url(world, "bob"), {"wip_limit": None}, "json")
    assert response.json()["wip_limit"] is None
    assert response.json()["role"] == "admin"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"role": "king"}, "role"),
        ({"wip_limit": 0}, "wip_limit"),
        ({"wip_limit": 1001}, "wip_limit"),
        ({"wip_limit": "many"}, "wip_limit"),
    ],
)
def test_changing_a_member_with_invalid_input_is_refused(world, api, payload, field):
    before = accounts_state()
    response = api(world.alice).patch(member_url(world, "bob"), payload, format="json")
    body = assert_error(response, 400, "invalid")
    assert field in body["fields"]
    assert accounts_state() == before


# --- session authentication ------------------------------------------------------------------


def test_a_logged_in_browser_session_can_read(world, client):
    client.force_login(world.mia)
    response = client.get(f"{API}/boards/{world.board.pk}/")
    assert response.status_code == 200
    assert response.json()["id"] == world.board.pk
    assert client.get(f"{API}/me/").json()["username"] == "mia"


def test_a_session_post_without_a_csrf_token_is_refused(world):
    # given
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(world.bob)
    before = Board.objects.count()

    # when
    response = client.post(
        f"{API}/boards/", {"team": world.sales.pk, "name": "Forged"}, format="json"
    )

    # then
    body = assert_error(response, 403, "csrf_failed")
    assert "CSRF" in body["detail"]
    assert Board.objects.count() == before


def test_a_session_post_with_the_csrf_token_is_accepted(world):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(world.bob)
    token = _get_new_csrf_string()
    client.cookies["csrftoken"] = token

    response = client.post(
        f"{API}/boards/",
        {"team": world.sales.pk, "name": "Real"},
        format="json",
        HTTP_X_CSRFTOKEN=token,
    )

    assert response.status_code == 201, response.content
    assert Board.objects.filter(name="Real").exists()


def test_a_token_request_needs_no_csrf_token(world):
    # Scripts send no cookies: CSRF protects sessions only.
    _, key = create_api_token(user=world.bob)
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    response = client.post(
        f"{API}/boards/", {"team": world.sales.pk, "name": "Scripted"}, format="json"
    )
    assert response.status_code == 201
