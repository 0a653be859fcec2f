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

from accounts import services
from accounts.models import Invitation, Membership, Role, User
from accounts.services import (
    accept_invitation,
    create_api_token,
    create_invitation,
    remove_member,
    revoke_invitation,
    sign_up_with_invitation,
)
from kanban.exceptions import Conflict, Forbidden, InvalidInput, InvitationNotValid
from tests.factories import UserFactory
from tests.test_api_accounts import accounts_state

pytestmark = pytest.mark.django_db

API = "/api/v1"
NOT_VALID = "This invitation is not valid (expired, used or revoked)."


def invite(world, role: str = Role.MEMBER, email: str = "", actor=None) -> tuple[Invitation, str]:
    return create_invitation(world.acme, role=role, email=email, actor=actor or world.alice)


def members_of(organization) -> dict[str, str]:
    return dict(
        Membership.objects.filter(organization=organization).values_list("user__username", "role")
    )


def test_making_an_invitation_never_reads_the_users_table(world):
    with CaptureQueriesContext(connection) as queries:
        create_invitation(world.acme, role=Role.MEMBER, email="gina@example.com", actor=world.alice)
    assert queries.captured_queries
    assert not [q["sql"] for q in queries.captured_queries if '"accounts_user"' in q["sql"]]


def _expire(invitation: Invitation) -> None:
    Invitation.objects.filter(pk=invitation.pk).update(
        created_at=timezone.now() - timedelta(days=8), expires_at=timezone.now()
    )


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
    monkeypatch.setattr("boards.events.send_message", lambda g, m: sent.append((g, m)))
    return sent


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


# --- the admin -------------------------------------------------------------------------------


@pytest.fixture
def staff_client(client):
    client.force_login(User.objects.create_superuser("root", "root@example.com", "pw"))
    return client


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
