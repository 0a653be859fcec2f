"""Setting Obeya up in the browser, server side: the first run (/accounts/setup/), a new board
(/o/{slug}/boards/new/), a board's settings (/boards/{id}/settings/) and the organisation's
people and teams (/o/{slug}/people/). Who may open and change them, that bad input changes
nothing and says why, and that another organisation's objects are not found."""

import threading

import pytest
from django.db import connection
from django.test import Client

from accounts import services as accounts_services
from accounts.models import Invitation, Membership, Organization, Role, Team, TeamMembership, User
from boards import services
from boards.models import Board, Column, Label, Stage, Swimlane, WipPolicy

pytestmark = pytest.mark.django_db


def settings_url(board: Board) -> str:
    return f"/boards/{board.pk}/settings/"


def snapshot(board: Board) -> list:
    """Everything the settings page may change, to compare before and after."""
    return [
        list(board.columns.order_by("position").values_list(
            "id", "name", "stage", "position", "wip_limit", "wip_policy", "policy")),
        list(board.swimlanes.order_by("position").values_list("id", "name", "position")),
        list(board.labels.order_by("id").values_list("id", "name", "color")),
    ]  # fmt: skip


COLUMN = {"name": "Deploy", "stage": "active", "wip_limit": "2", "wip_policy": "hard",
          "policy": "Exit: running in production."}  # fmt: skip


# --- the first run ---------------------------------------------------------------------------

FIRST_RUN = {
    "organization_name": "Initech",
    "team_name": "Platform",
    "username": "peter",
    "email": "peter@initech.example",
    "password1": "a long enough passphrase",
    "password2": "a long enough passphrase",
}


def test_first_run_makes_the_owner_org_and_team_and_logs_in(client):
    response = client.get("/accounts/setup/")
    assert response.status_code == 200
    assert "Set up Obeya" in response.content.decode()

    response = client.post("/accounts/setup/", FIRST_RUN)

    assert response.status_code == 302
    assert response["Location"] == "/o/initech/boards/new/"
    peter = User.objects.get()
    assert (peter.username, peter.is_staff, peter.is_superuser) == ("peter", True, True)
    assert peter.check_password("a long enough passphrase")
    org = Organization.objects.get()
    assert Membership.objects.get(user=peter, organization=org).role == Role.OWNER
    assert Team.objects.get(organization=org).members.get() == peter
    assert client.get("/o/initech/").status_code == 200  # logged in


def test_the_login_page_points_to_the_first_run_only_while_nobody_exists(client):
    assert 'href="/accounts/setup/"' in client.get("/accounts/login/").content.decode()
    accounts_services.create_user(username="someone", password="x")
    assert 'href="/accounts/setup/"' not in client.get("/accounts/login/").content.decode()


def test_first_run_is_not_found_once_anyone_has_an_account(client, world):
    assert client.get("/accounts/setup/").status_code == 404
    assert client.post("/accounts/setup/", FIRST_RUN).status_code == 404
    assert not User.objects.filter(username="peter").exists()
    assert not Organization.objects.filter(slug="initech").exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"password2": "something else"}, "The two passwords differ."),
        ({"password1": "short", "password2": "short"}, "This password is too short"),
        ({"organization_name": ""}, "This field is required."),
        ({"username": "no spaces allowed"}, "Enter a valid username"),
        ({"email": "not-an-address"}, "Enter a valid email address."),
    ],
)
def test_first_run_with_bad_input_says_why_and_makes_nothing(client, change, message):
    response = client.post("/accounts/setup/", {**FIRST_RUN, **change})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not User.objects.exists() and not Organization.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_first_runs_at_once_make_exactly_one_owner():
    if connection.vendor != "postgresql":
        pytest.skip("the advisory lock is Postgres'")
    barrier = threading.Barrier(2)
    statuses = []

    def submit(name: str) -> None:
        try:
            barrier.wait()
            response = Client().post(
                "/accounts/setup/",
                {**FIRST_RUN, "username": name, "organization_name": f"Org {name}"},
            )
            statuses.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit, args=(n,)) for n in ("first", "second")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(statuses) == [302, 404]
    assert User.objects.count() == 1
    assert Organization.objects.count() == 1
    assert Membership.objects.get().role == Role.OWNER


# --- a new board -----------------------------------------------------------------------------


def test_a_member_creates_a_board_for_their_team_from_a_template(client, world):
    client.force_login(world.bob)
    page = client.get("/o/acme/boards/new/").content.decode()
    assert "Software delivery" in page and "Support" in page and "Simple" in page

    response = client.post(
        "/o/acme/boards/new/", {"name": "Helpdesk", "team": world.sales.pk, "template": "simple"}
    )

    board = Board.objects.get(name="Helpdesk")
    assert response["Location"] == f"/boards/{board.pk}/"
    assert board.team == world.sales
    assert list(board.columns.order_by("position").values_list("name", "stage")) == [
        ("To do", Stage.BACKLOG),
        ("Doing", Stage.ACTIVE),
        ("Done", Stage.DONE),
    ]


def test_the_default_template_has_the_default_columns(client, world):
    client.force_login(world.alice)
    client.post(
        "/o/acme/boards/new/", {"name": "B", "team": world.product.pk, "template": "default"}
    )
    names = Board.objects.get(name="B").columns.order_by("position").values_list("name", flat=True)
    assert list(names) == ["Backlog", "Ready", "Doing", "Review", "Done"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "", "template": "simple"}, "This field is required."),
        ({"name": "X", "template": "nonsense"}, "Select a valid choice."),
        ({"name": "X", "template": "simple", "team": "product"}, "Choose the team"),
    ],
)
def test_a_new_board_with_bad_input_says_why_and_makes_nothing(client, world, data, message):
    client.force_login(world.bob)
    data = {"team": world.sales.pk, **data}
    if data["team"] == "product":
        data["team"] = world.product.pk  # not bob's team
    before = Board.objects.count()
    response = client.post("/o/acme/boards/new/", data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert Board.objects.count() == before


def test_viewers_may_not_create_boards_and_a_foreign_org_is_not_found(client, world):
    client.force_login(world.victor)
    assert client.get("/o/acme/boards/new/").status_code == 403
    response = client.post("/o/acme/boards/new/", {"name": "X", "team": world.sales.pk,
                                                   "template": "simple"})  # fmt: skip
    assert response.status_code == 403
    assert not Board.objects.filter(name="X").exists()
    client.force_login(world.gina)
    assert client.get("/o/acme/boards/new/").status_code == 404


# --- a board's settings ----------------------------------------------------------------------


def test_a_team_member_adds_a_column_with_a_hard_limit_and_a_policy(client, world):
    client.force_login(world.bob)
    response = client.post(settings_url(world.board), {"action": "column-add", **COLUMN})
    assert response.status_code == 302
    column = world.board.columns.get(name="Deploy")
    assert (column.stage, column.wip_limit, column.wip_policy, column.policy) == (
        Stage.ACTIVE, 2, WipPolicy.HARD, "Exit: running in production.")  # fmt: skip
    assert column.position == 5  # at the end
    page = client.get(settings_url(world.board)).content.decode()
    assert "Column Deploy added." in page


def test_columns_are_renamed_restaged_limited_and_reordered(client, world):
    client.force_login(world.alice)
    review = world.column("Review")
    client.post(settings_url(world.board), {
        "action": "column-save", "column": review.pk, "name": "Code review", "stage": "wait",
        "wip_limit": "3", "wip_policy": "soft", "policy": "Two approvals."})  # fmt: skip
    review.refresh_from_db()
    assert (review.name, review.wip_limit, review.policy) == ("Code review", 3, "Two approvals.")

    client.post(settings_url(world.board), {"action": "column-move", "column": review.pk,
                                            "direction": "earlier"})  # fmt: skip
    client.post(settings_url(world.board), {"action": "column-move", "column": review.pk,
                                            "position": "0"})  # fmt: skip
    names = world.board.columns.order_by("position").values_list("name", flat=True)
    assert list(names) == ["Code review", "Backlog", "Ready", "Doing", "Done"]


@pytest.mark.parametrize(
    ("data", "message", "status"),
    [
        ({**COLUMN, "wip_limit": "0"}, "greater than or equal to 1", 400),
        ({**COLUMN, "wip_limit": "many"}, "Enter a whole number.", 400),
        ({**COLUMN, "stage": "limbo"}, "Select a valid choice.", 400),
        ({**COLUMN, "name": ""}, "This field is required.", 400),
        ({**COLUMN, "name": "x" * 81}, "at most 80 characters", 400),
    ],
)
def test_a_column_with_bad_input_says_why_and_changes_nothing(client, world, data, message, status):
    client.force_login(world.bob)
    before = snapshot(world.board)
    for action in ({"action": "column-add"},
                   {"action": "column-save", "column": world.column("Ready").pk}):  # fmt: skip
        response = client.post(settings_url(world.board), {**action, **data})
        assert response.status_code == status
        assert message in response.content.decode()
    assert snapshot(world.board) == before


def test_deleting_a_column_that_holds_cards_is_refused_with_a_sentence(client, world):
    client.force_login(world.bob)
    ready = world.column("Ready")
    services.create_card(world.board, title="Waiting", column=ready, actor=world.bob)
    before = snapshot(world.board)
    response = client.post(settings_url(world.board), {"action": "column-delete",
                                                       "column": ready.pk})  # fmt: skip
    assert response.status_code == 409
    assert "Ready still holds cards" in response.content.decode()
    assert snapshot(world.board) == before

    backlog = world.column("Backlog")
    response = client.post(settings_url(world.board), {"action": "column-delete",
                                                       "column": backlog.pk})  # fmt: skip
    assert response.status_code == 302
    assert not Column.objects.filter(pk=backlog.pk).exists()


def test_swimlanes_are_added_renamed_reordered_and_deleted(client, world):
    client.force_login(world.bob)
    url = settings_url(world.board)
    client.post(url, {"action": "lane-add", "name": "Expedite"})
    expedite = world.board.swimlanes.get(name="Expedite")
    client.post(url, {"action": "lane-move", "swimlane": expedite.pk, "direction": "earlier"})
    names = world.board.swimlanes.order_by("position").values_list("name", flat=True)
    assert list(names) == ["Expedite", "Default"]
    client.post(url, {"action": "lane-save", "swimlane": expedite.pk, "name": "Urgent"})
    assert Swimlane.objects.get(pk=expedite.pk).name == "Urgent"
    assert client.post(url, {"action": "lane-delete", "swimlane": expedite.pk}).status_code == 302
    assert list(world.board.swimlanes.values_list("name", flat=True)) == ["Default"]
    response = client.post(url, {"action": "lane-delete",
                                 "swimlane": world.board.swimlanes.get().pk})  # fmt: skip
    assert response.status_code == 409
    assert "A board needs at least one swimlane." in response.content.decode()


def test_labels_are_added_recoloured_renamed_and_deleted(client, world):
    client.force_login(world.bob)
    url = settings_url(world.board)
    client.post(url, {"action": "label-add", "name": "urgent", "color": "#C81E1E"})
    label = Label.objects.get(board=world.board)
    assert (label.name, label.color) == ("urgent", "#c81e1e")
    client.post(url, {"action": "label-save", "label": label.pk, "name": "hot", "color": "#16a34a"})
    label.refresh_from_db()
    assert (label.name, label.color) == ("hot", "#16a34a")
    client.post(url, {"action": "label-delete", "label": label.pk})
    assert not Label.objects.filter(pk=label.pk).exists()


def test_a_label_with_a_bad_colour_or_a_taken_name_changes_nothing(client, world):
    client.force_login(world.bob)
    services.create_label(world.board, name="taken", color="#2563eb", actor=world.bob)
    other = services.create_label(world.board, name="other", color="#2563eb", actor=world.bob)
    before = snapshot(world.board)
    url = settings_url(world.board)
    response = client.post(url, {"action": "label-add", "name": "x", "color": "red"})
    assert response.status_code == 400
    assert "Write the colour as #rrggbb." in response.content.decode()
    response = client.post(url, {"action": "label-save", "label": other.pk, "name": "taken",
                                 "color": "#2563eb"})  # fmt: skip
    assert response.status_code == 409
    assert "already has a label" in response.content.decode()
    assert snapshot(world.board) == before


@pytest.mark.parametrize("who", ["victor", "mia"])
def test_readers_see_the_settings_read_only_and_may_change_nothing(client, world, who):
    client.force_login(getattr(world, who))  # a viewer; a member of another team
    page = client.get(settings_url(world.board))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Read-only" in html and "<fieldset disabled>" in html
    assert "Add column" not in html
    before = snapshot(world.board)
    for data in ({"action": "column-add", **COLUMN},
                 {"action": "column-delete", "column": world.column("Done").pk},
                 {"action": "lane-add", "name": "X"},
                 {"action": "label-add", "name": "x", "color": "#000000"}):  # fmt: skip
        response = client.post(settings_url(world.board), data)
        assert response.status_code == 403
    assert snapshot(world.board) == before


def test_another_organisations_board_and_ids_are_not_found(client, world):
    client.force_login(world.gina)
    assert client.get(settings_url(world.board)).status_code == 404
    assert (
        client.post(settings_url(world.board), {"action": "lane-add", "name": "X"}).status_code
        == 404
    )
    # acme's column named on globex's board: not on the board
    client.force_login(world.alice)
    before = snapshot(world.globex_board)
    response = client.post(settings_url(world.board), {
        "action": "column-delete", "column": world.globex_board.columns.first().pk})  # fmt: skip
    assert response.status_code == 400
    assert snapshot(world.globex_board) == before
    assert client.get("/accounts/login/").status_code == 302  # logged in: sent on


def test_the_board_page_links_to_its_settings(client, world):
    client.force_login(world.bob)
    html = client.get(f"/boards/{world.board.pk}/").content.decode()
    assert f'href="/boards/{world.board.pk}/settings/"' in html


# --- people and teams -----------------------------------------------------------------------


def test_an_admin_invites_someone_and_sees_the_link_once(client, world):
    client.force_login(world.adam)
    response = client.post("/o/acme/people/", {"action": "invite", "email": "new@acme.example",
                                               "role": "member"})  # fmt: skip
    assert response.status_code == 200
    html = response.content.decode()
    invitation = Invitation.objects.get(email="new@acme.example")
    assert invitation.role == Role.MEMBER
    assert f"/invitations/{invitation.prefix}" in html
    assert f"/invitations/{invitation.prefix}" not in client.get("/o/acme/people/").content.decode()


def test_an_admin_may_not_invite_an_owner(client, world):
    client.force_login(world.adam)
    response = client.post("/o/acme/people/", {"action": "invite", "role": "owner"})
    assert response.status_code == 403
    assert "Only an owner can invite an owner." in response.content.decode()
    assert not Invitation.objects.exists()


def test_an_owner_changes_a_role_and_a_personal_wip_limit(client, world):
    client.force_login(world.alice)
    response = client.post("/o/acme/people/", {"action": "member-save", "user": world.bob.pk,
                                               "role": "admin", "wip_limit": "3"})  # fmt: skip
    assert response.status_code == 302
    membership = Membership.objects.get(user=world.bob, organization=world.acme)
    assert (membership.role, membership.wip_limit) == (Role.ADMIN, 3)


def test_the_last_owner_keeps_the_role_and_bad_limits_change_nothing(client, world):
    client.force_login(world.alice)
    response = client.post("/o/acme/people/", {"action": "member-save", "user": world.alice.pk,
                                               "role": "member"})  # fmt: skip
    assert response.status_code == 409
    assert "at least one owner" in response.content.decode()
    response = client.post("/o/acme/people/", {"action": "member-save", "user": world.bob.pk,
                                               "role": "member", "wip_limit": "-1"})  # fmt: skip
    assert response.status_code == 400
    roles = dict(Membership.objects.filter(organization=world.acme).values_list("user__username",
                                                                               "role"))  # fmt: skip
    assert roles["alice"] == Role.OWNER and roles["bob"] == Role.MEMBER
    assert Membership.objects.get(user=world.bob).wip_limit is None


def test_an_admin_removes_a_member(client, world):
    client.force_login(world.adam)
    response = client.post("/o/acme/people/", {"action": "member-remove", "user": world.mia.pk})
    assert response.status_code == 302
    assert not Membership.objects.filter(user=world.mia).exists()
    assert not TeamMembership.objects.filter(user=world.mia).exists()


def test_teams_are_created_renamed_and_their_members_changed(client, world):
    client.force_login(world.alice)
    client.post("/o/acme/people/", {"action": "team-add", "name": "Support"})
    support = Team.objects.get(organization=world.acme, name="Support")
    client.post("/o/acme/people/", {"action": "team-rename", "team": support.pk,
                                    "name": "Customer support"})  # fmt: skip
    client.post("/o/acme/people/", {"action": "team-member-add", "team": support.pk,
                                    "user": world.mia.pk})  # fmt: skip
    support.refresh_from_db()
    assert support.name == "Customer support"
    assert list(support.members.all()) == [world.mia]
    client.post("/o/acme/people/", {"action": "team-member-remove", "team": support.pk,
                                    "user": world.mia.pk})  # fmt: skip
    assert not support.members.exists()


def test_members_read_the_people_page_but_may_change_nothing(client, world):
    client.force_login(world.bob)
    html = client.get("/o/acme/people/").content.decode()
    assert "alice" in html and "Invite someone" not in html
    for data in ({"action": "invite", "role": "member"},
                 {"action": "member-save", "user": world.bob.pk, "role": "owner"},
                 {"action": "team-add", "name": "Mine"},
                 {"action": "member-remove", "user": world.mia.pk}):  # fmt: skip
        assert client.post("/o/acme/people/", data).status_code == 403
    assert not Invitation.objects.exists()
    assert Membership.objects.get(user=world.bob).role == Role.MEMBER
    assert not Team.objects.filter(name="Mine").exists()
    assert Membership.objects.filter(user=world.mia).exists()


def test_another_organisation_and_its_people_are_not_found(client, world):
    client.force_login(world.gina)
    assert client.get("/o/acme/people/").status_code == 404
    assert client.post("/o/acme/people/", {"action": "team-add", "name": "X"}).status_code == 404
    client.force_login(world.alice)
    response = client.post("/o/acme/people/", {"action": "member-remove", "user": world.gina.pk})
    assert response.status_code == 404
    assert Membership.objects.filter(user=world.gina).exists()


def test_staff_see_the_django_admin_link(client, world):
    client.force_login(world.alice)
    assert 'href="/admin/"' not in client.get("/o/acme/people/").content.decode()
    User.objects.filter(pk=world.alice.pk).update(is_staff=True)
    assert 'href="/admin/"' in client.get("/o/acme/people/").content.decode()
    assert 'href="/admin/"' in client.get("/").content.decode()


def test_the_settings_page_reads_a_fixed_number_of_queries_whatever_the_cards(client, world):
    from django.db import connection as conn
    from django.test.utils import CaptureQueriesContext

    client.force_login(world.bob)

    def queries() -> int:
        with CaptureQueriesContext(conn) as captured:
            assert client.get(settings_url(world.board)).status_code == 200
        return len(captured)

    few = queries()
    for i in range(20):
        services.create_card(world.board, title=f"Card {i}", column=world.column("Ready"),
                             actor=world.bob)  # fmt: skip
    assert queries() == few


def test_label_changes_are_written_to_the_boards_event_log(world):
    label = services.create_label(world.board, name="urgent", color="#c81e1e", actor=world.bob)
    services.update_label(label, color="#16a34a", actor=world.bob)
    services.delete_label(label, actor=world.bob)
    events = list(world.board.events.order_by("seq").values_list("type", "data"))[-3:]
    assert [t for t, _ in events] == ["label.created", "label.updated", "label.deleted"]
    assert events[1][1]["changed"] == ["color"]
