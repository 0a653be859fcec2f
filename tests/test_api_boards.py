"""The REST API for boards, columns, swimlanes, labels and the event log, and the permission
matrix over every endpoint of boards/api/urls.py (users x endpoints)."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import transaction

from boards import services
from boards.api import urls as board_urls
from boards.models import (
    Block,
    Board,
    Card,
    CardMove,
    CardWait,
    Column,
    Comment,
    Event,
    ImportJob,
    Label,
    Stage,
    Swimlane,
    WipPolicy,
)
from boards.services import trello
from tests.clients import client_for

pytestmark = pytest.mark.django_db

API = "/api/v1"
ACTORS = ["alice", "adam", "bob", "mia", "victor", "gina", "anonymous", "bad_token"]


# --- helpers ---------------------------------------------------------------------------------


def db_state() -> tuple:
    """Everything an API call could change, to assert that a refused call changed nothing."""
    return (
        list(Board.objects.order_by("pk").values_list("pk", "name", "team_id", "last_seq")),
        list(
            Column.objects.order_by("pk").values_list(
                "pk", "name", "stage", "position", "wip_limit", "wip_policy", "policy"
            )
        ),
        list(Swimlane.objects.order_by("pk").values_list("pk", "name", "position", "wip_limit")),
        list(
            Card.objects.order_by("pk").values_list(
                "pk", "column_id", "swimlane_id", "rank", "title", "blocked", "archived"
            )
        ),
        list(Label.objects.order_by("pk").values_list("pk", "name")),
        list(Block.objects.order_by("pk").values_list("pk", "ended_at")),
        Comment.objects.count(),
        CardMove.objects.count(),
        Event.objects.count(),
        list(ImportJob.objects.order_by("pk").values_list("pk", "status")),
    )


def assert_error(response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code, body
    assert isinstance(body["detail"], str) and body["detail"]
    return body


def assert_invalid(response, *fields: str) -> dict[str, Any]:
    body = assert_error(response, 400, "invalid")
    assert set(fields) <= set(body["fields"]), body
    return body


TRELLO_EXPORT = {
    "name": "From Trello",
    "lists": [{"id": "l1", "name": "Doing", "pos": 1}],
    "cards": [{"id": "c1", "name": "A card", "idList": "l1", "pos": 1}],
}


@dataclass
class Objects:
    """One board of an organisation with something of every kind on it."""

    board: Board
    ready: Column
    doing: Column
    spare_column: Column  # empty: deletable
    lane: Swimlane
    spare_lane: Swimlane  # empty: deletable
    label: Label
    card: Card
    blocked_card: Card
    job: ImportJob  # an import of a board for the team, queued
    waiting: Card  # waits on `card` (boards/services/waits.py)
    wait: CardWait


def objects_on(board: Board, owner) -> Objects:
    ready = board.columns.get(name="Ready")
    doing = board.columns.get(name="Doing")
    lane = board.swimlanes.get()
    spare_column = services.create_column(board, name="Spare", actor=owner)
    spare_lane = services.create_swimlane(board, name="Spare lane", actor=owner)
    label = services.create_label(board, name="customer", actor=owner)
    card = services.create_card(board, title="Invoice run", column=ready, actor=owner)
    services.add_comment(card, body="First pass done", actor=owner)
    blocked_card = services.create_card(board, title="Waiting", column=ready, actor=owner)
    services.block_card(blocked_card, reason="Waiting for legal", actor=owner)
    job = trello.start_trello_import(team=board.team, data=TRELLO_EXPORT, actor=owner)
    waiting = services.create_card(board, title="Needs the invoice", column=ready, actor=owner)
    wait = services.add_wait(waiting, on=card, actor=owner)
    return Objects(
        board,
        ready,
        doing,
        spare_column,
        lane,
        spare_lane,
        label,
        card,
        blocked_card,
        job,
        waiting,
        wait,
    )


@pytest.fixture
def acme(world) -> Objects:
    return objects_on(world.board, world.alice)


@pytest.fixture
def globex(world) -> Objects:
    return objects_on(world.globex_board, world.gina)


# --- the permission matrix -------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    name: str
    url_name: str
    method: str
    path: Callable[[Objects], str]
    kind: str  # read: every member; write: team members and managers; manage: managers
    ok: int = 200
    body: Callable[[Objects], dict] | None = None
    changes: bool = True  # whether a successful write changes the database

    def call(self, client, o: Objects):
        if self.body is None:
            return getattr(client, self.method)(self.path(o))
        return getattr(client, self.method)(self.path(o), self.body(o), format="json")


ENDPOINTS = [
    Endpoint("board-get", "api-board", "get", lambda o: f"{API}/boards/{o.board.pk}/", "read"),
    Endpoint(
        "board-patch",
        "api-board",
        "patch",
        lambda o: f"{API}/boards/{o.board.pk}/",
        "write",
        body=lambda o: {"name": "Renamed"},
    ),
    Endpoint(
        "board-delete",
        "api-board",
        "delete",
        lambda o: f"{API}/boards/{o.board.pk}/",
        "manage",
        ok=204,
    ),
    Endpoint(
        "column-create",
        "api-columns",
        "post",
        lambda o: f"{API}/boards/{o.board.pk}/columns/",
        "write",
        ok=201,
        body=lambda o: {"name": "QA", "stage": "wait"},
    ),
    Endpoint("column-get", "api-column", "get", lambda o: f"{API}/columns/{o.ready.pk}/", "read"),
    Endpoint(
        "column-patch",
        "api-column",
        "patch",
        lambda o: f"{API}/columns/{o.ready.pk}/",
        "write",
        body=lambda o: {"wip_limit": 3},
    ),
    Endpoint(
        "column-delete",
        "api-column",
        "delete",
        lambda o: f"{API}/columns/{o.spare_column.pk}/",
        "write",
        ok=204,
    ),
    Endpoint(
        "swimlane-create",
        "api-swimlanes",
        "post",
        lambda o: f"{API}/boards/{o.board.pk}/swimlanes/",
        "write",
        ok=201,
        body=lambda o: {"name": "Expedite"},
    ),
    Endpoint(
        "swimlane-get", "api-swimlane", "get", lambda o: f"{API}/swimlanes/{o.lane.pk}/", "read"
    ),
    Endpoint(
        "swimlane-patch",
        "api-swimlane",
        "patch",
        lambda o: f"{API}/swimlanes/{o.lane.pk}/",
        "write",
        body=lambda o: {"name": "Renamed lane"},
    ),
    Endpoint(
        "swimlane-delete",
        "api-swimlane",
        "delete",
        lambda o: f"{API}/swimlanes/{o.spare_lane.pk}/",
        "write",
        ok=204,
    ),
    Endpoint(
        "label-list", "api-labels", "get", lambda o: f"{API}/boards/{o.board.pk}/labels/", "read"
    ),
    Endpoint(
        "label-create",
        "api-labels",
        "post",
        lambda o: f"{API}/boards/{o.board.pk}/labels/",
        "write",
        ok=201,
        body=lambda o: {"name": "urgent", "color": "#ff0000"},
    ),
    Endpoint(
        "events",
        "api-events",
        "get",
        lambda o: f"{API}/boards/{o.board.pk}/events/?since=0",
        "read",
    ),
    Endpoint(
        "metrics", "api-metrics", "get", lambda o: f"{API}/boards/{o.board.pk}/metrics/", "read"
    ),
    Endpoint("alerts", "api-alerts", "get", lambda o: f"{API}/boards/{o.board.pk}/alerts/", "read"),
    Endpoint(
        "card-create",
        "api-board-cards",
        "post",
        lambda o: f"{API}/boards/{o.board.pk}/cards/",
        "write",
        ok=201,
        body=lambda o: {"title": "New", "column": o.ready.pk},
    ),
    Endpoint("card-get", "api-card", "get", lambda o: f"{API}/cards/{o.card.pk}/", "read"),
    Endpoint(
        "card-patch",
        "api-card",
        "patch",
        lambda o: f"{API}/cards/{o.card.pk}/",
        "write",
        body=lambda o: {"title": "Edited", "value": 80},
    ),
    # An empty PATCH changes nothing, but is still a write: a viewer must be refused.
    Endpoint(
        "card-patch-empty",
        "api-card",
        "patch",
        lambda o: f"{API}/cards/{o.card.pk}/",
        "write",
        body=lambda o: {},
        changes=False,
    ),
    Endpoint(
        "card-archive",
        "api-card",
        "patch",
        lambda o: f"{API}/cards/{o.card.pk}/",
        "write",
        body=lambda o: {"archived": True},
    ),
    Endpoint(
        "card-delete", "api-card", "delete", lambda o: f"{API}/cards/{o.card.pk}/", "write", ok=204
    ),
    Endpoint(
        "card-move",
        "api-card-move",
        "post",
        lambda o: f"{API}/cards/{o.card.pk}/move/",
        "write",
        body=lambda o: {"column": o.doing.pk},
    ),
    Endpoint(
        "card-block",
        "api-card-block",
        "post",
        lambda o: f"{API}/cards/{o.card.pk}/block/",
        "write",
        body=lambda o: {"reason": "Waiting for the customer"},
    ),
    Endpoint(
        "card-unblock",
        "api-card-unblock",
        "post",
        lambda o: f"{API}/cards/{o.blocked_card.pk}/unblock/",
        "write",
    ),
    Endpoint(
        "comment-list",
        "api-card-comments",
        "get",
        lambda o: f"{API}/cards/{o.card.pk}/comments/",
        "read",
    ),
    Endpoint(
        "comment-create",
        "api-card-comments",
        "post",
        lambda o: f"{API}/cards/{o.card.pk}/comments/",
        "write",
        ok=201,
        body=lambda o: {"body": "Looks good"},
    ),
    Endpoint(
        "history",
        "api-card-history",
        "get",
        lambda o: f"{API}/cards/{o.card.pk}/history/",
        "read",
    ),
    # Forecasts, service levels and blockers (boards/api/forecast_views.py)
    Endpoint(
        "forecast", "api-forecast", "get", lambda o: f"{API}/boards/{o.board.pk}/forecast/", "read"
    ),
    Endpoint(
        "forecast-backtest",
        "api-forecast-backtest",
        "get",
        lambda o: f"{API}/boards/{o.board.pk}/forecast/backtest/",
        "read",
    ),
    Endpoint(
        "service-levels",
        "api-service-levels",
        "get",
        lambda o: f"{API}/boards/{o.board.pk}/service-levels/",
        "read",
    ),
    Endpoint(
        "service-level-patch",
        "api-service-level",
        "patch",
        lambda o: f"{API}/boards/{o.board.pk}/service-levels/expedite/",
        "write",
        body=lambda o: {"sle_days": 2, "wip_limit": 1},
    ),
    Endpoint(
        "blockers", "api-blockers", "get", lambda o: f"{API}/boards/{o.board.pk}/blockers/", "read"
    ),
    # Waits between cards (boards/api/waits.py)
    Endpoint("waits", "api-card-waits", "get", lambda o: f"{API}/cards/{o.card.pk}/waits/", "read"),
    Endpoint(
        "wait-create",
        "api-card-waits",
        "post",
        lambda o: f"{API}/cards/{o.card.pk}/waits/",
        "write",
        ok=201,
        body=lambda o: {"on": o.blocked_card.pk},
    ),
    Endpoint(
        "wait-delete",
        "api-card-wait",
        "delete",
        lambda o: f"{API}/cards/{o.waiting.pk}/waits/{o.wait.pk}/",
        "write",
        ok=204,
    ),
    # The organisation in one view (boards/api/org_views.py)
    Endpoint(
        "org-overview",
        "api-org-overview",
        "get",
        lambda o: f"{API}/orgs/{o.board.organization.slug}/overview/",
        "read",
    ),
    Endpoint(
        "org-activity",
        "api-org-activity",
        "get",
        lambda o: f"{API}/orgs/{o.board.organization.slug}/activity/",
        "read",
    ),
    Endpoint(
        "board-activity",
        "api-board-activity",
        "get",
        lambda o: f"{API}/boards/{o.board.pk}/activity/",
        "read",
    ),
    Endpoint(
        "export-cards",
        "api-board-export-cards",
        "get",
        lambda o: f"{API}/boards/{o.board.pk}/export/cards.csv",
        "read",
    ),
    Endpoint(
        "export-history",
        "api-board-export-history",
        "get",
        lambda o: f"{API}/boards/{o.board.pk}/export/history.csv",
        "read",
    ),
    Endpoint(
        "import-trello",
        "api-org-import-trello",
        "post",
        lambda o: f"{API}/orgs/{o.board.organization.slug}/import/trello/",
        "write",  # creating a board for the team: its members and the managers
        ok=202,  # the job queued (it runs once the request commits: never, in these tests)
        body=lambda o: {"team": o.board.team_id, "board": TRELLO_EXPORT},
    ),
    Endpoint(
        "imports",
        "api-org-imports",
        "get",
        lambda o: f"{API}/orgs/{o.board.organization.slug}/imports/",
        "read",
    ),
    Endpoint("import-get", "api-import", "get", lambda o: f"{API}/imports/{o.job.pk}/", "read"),
]

# The two list endpoints take no object in the path: tested below and in test_api_cards.py.
LIST_ENDPOINTS = {"api-boards", "api-cards"}

WRITERS = {"read": set(ACTORS[:5]), "write": {"alice", "adam", "bob"}, "manage": {"alice", "adam"}}


def test_the_matrix_covers_every_board_endpoint():
    named = {p.name for p in board_urls.urlpatterns}
    assert named - LIST_ENDPOINTS == {e.url_name for e in ENDPOINTS}


def outcome(response, changed: bool) -> tuple[int, str | None, bool]:
    """What a call did: its status, its error code, and whether it changed the database."""
    code = response.json()["code"] if response.status_code >= 400 else None
    return response.status_code, code, changed


def expected_outcome(endpoint: Endpoint, who: str) -> tuple[int, str | None, bool]:
    if who == "anonymous":
        return 401, "not_authenticated", False
    if who == "bad_token":
        return 401, "authentication_failed", False
    if who == "gina":
        return 404, "not_found", False  # another organisation's board does not exist for her
    if who not in WRITERS[endpoint.kind]:
        return 403, "permission_denied", False
    return endpoint.ok, None, endpoint.kind != "read" and endpoint.changes


def call_rolled_back(endpoint: Endpoint, client, o: Objects) -> tuple[int, str | None, bool]:
    """Call the endpoint inside a savepoint that is rolled back, so that every user of a row of
    the matrix meets the same board (a delete by one does not hide it from the next)."""
    with transaction.atomic():
        before = db_state()
        response = endpoint.call(client, o)
        result = outcome(response, changed=db_state() != before)
        transaction.set_rollback(True)
    return result


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.name)
def test_permission_matrix(world, api, acme, endpoint):
    """One row per endpoint: every member reads; the team and the managers write; the owner
    and admins manage; viewers and members off the team get 403; another organisation 404;
    no or a wrong token 401. A refused call changes nothing."""
    # given
    clients = {who: client_for(who, world, api) for who in ACTORS}

    # when
    got = {who: call_rolled_back(endpoint, clients[who], acme) for who in ACTORS}

    # then
    assert got == {who: expected_outcome(endpoint, who) for who in ACTORS}


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.name)
def test_another_organisations_objects_are_not_found_even_for_its_managers(
    world, api, globex, endpoint
):
    # given: alice owns Acme and adam is its admin; neither is in Globex
    clients = {who: api(getattr(world, who)) for who in ("alice", "adam")}

    # when
    got = {who: call_rolled_back(endpoint, client, globex) for who, client in clients.items()}

    # then
    assert got == {"alice": (404, "not_found", False), "adam": (404, "not_found", False)}


def test_an_unknown_api_path_is_a_json_404(world, api):
    response = api(world.alice).get(f"{API}/nothing-here/")
    assert_error(response, 404, "not_found")


def test_a_method_the_endpoint_does_not_have_is_a_json_405(world, api):
    response = api(world.alice).put(f"{API}/boards/{world.board.pk}/", {}, format="json")
    assert_error(response, 405, "method_not_allowed")


# --- board list and create -------------------------------------------------------------------


def test_board_list_shows_every_board_of_my_organisations_and_none_of_others(world, api):
    # given
    product_board = services.create_board(team=world.product, name="Roadmap", actor=world.alice)
    services.create_card(world.board, title="Lead", column=world.column("Ready"), actor=world.bob)

    # when
    response = api(world.mia).get(f"{API}/boards/")

    # then: mia, on Product only, still sees the Sales board (read), but may write only Product's
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2 and body["next"] is None and body["previous"] is None
    by_id = {b["id"]: b for b in body["results"]}
    assert set(by_id) == {world.board.pk, product_board.pk}
    sales = by_id[world.board.pk]
    assert sales == {
        "id": world.board.pk,
        "organization": "acme",
        "team": world.sales.pk,
        "team_name": "Sales",
        "name": "Sales pipeline",
        "description": "",
        "seq": Board.objects.get(pk=world.board.pk).last_seq,
        "created_at": sales["created_at"],
        "updated_at": sales["updated_at"],
        "release_done_after_days": None,
        "no_done_while_waiting": False,
        "cards": 1,
        "can_write": False,
    }
    assert by_id[product_board.pk]["can_write"] is True


def test_board_list_for_another_organisation_holds_only_its_boards(world, api):
    response = api(world.gina).get(f"{API}/boards/")
    assert [b["id"] for b in response.json()["results"]] == [world.globex_board.pk]


def test_board_list_filters_by_organisation_and_team(world, api):
    # given
    product_board = services.create_board(team=world.product, name="Roadmap", actor=world.alice)
    client = api(world.alice)

    # when
    by_team = client.get(f"{API}/boards/", {"team": world.product.pk}).json()
    by_org = client.get(f"{API}/boards/", {"org": "acme"}).json()
    foreign_org = client.get(f"{API}/boards/", {"org": "globex"}).json()
    foreign_team = client.get(f"{API}/boards/", {"team": world.globex_board.team_id}).json()

    # then
    assert [b["id"] for b in by_team["results"]] == [product_board.pk]
    assert {b["id"] for b in by_org["results"]} == {world.board.pk, product_board.pk}
    assert foreign_org["count"] == 0
    assert foreign_team["count"] == 0


@pytest.mark.parametrize("team", ["abc", "-1", "1.5", "²"])
def test_board_list_refuses_a_team_that_is_not_an_id(world, api, team):
    response = api(world.alice).get(f"{API}/boards/", {"team": team})
    assert_invalid(response, "team")


@pytest.mark.parametrize("who", ["alice", "adam", "bob"])
def test_creating_a_board_without_columns_gives_the_five_default_columns(world, api, who):
    # when
    response = api(getattr(world, who)).post(
        f"{API}/boards/", {"team": world.sales.pk, "name": "Renewals"}, format="json"
    )

    # then
    assert response.status_code == 201, response.content
    body = response.json()
    board = Board.objects.get(pk=body["id"])
    assert (board.name, board.team_id, board.organization_id) == (
        "Renewals",
        world.sales.pk,
        world.acme.pk,
    )
    expected = [
        ("Backlog", Stage.BACKLOG),
        ("Ready", Stage.WAIT),
        ("Doing", Stage.ACTIVE),
        ("Review", Stage.WAIT),
        ("Done", Stage.DONE),
    ]
    assert [(c["name"], c["stage"]) for c in body["columns"]] == expected
    assert [c["position"] for c in body["columns"]] == [0, 1, 2, 3, 4]
    assert all(c["wip"] == 0 and c["wip_limit"] is None for c in body["columns"])
    assert list(board.columns.order_by("position").values_list("name", "stage")) == expected
    assert [lane["name"] for lane in body["swimlanes"]] == ["Default"]
    assert body["cards"] == [] and body["can_write"] is True
    assert body["seq"] == board.last_seq == 1
    assert Event.objects.get(board=board).type == "board.created"


def test_creating_a_board_with_columns_and_swimlanes_keeps_their_order(world, api):
    response = api(world.bob).post(
        f"{API}/boards/",
        {
            "team": world.sales.pk,
            "name": "Support",
            "description": "Tickets",
            "columns": [
                {"name": "Inbox", "stage": "backlog"},
                {"name": "Fixing", "stage": "active", "wip_limit": 2, "wip_policy": "hard"},
                {"name": "Closed", "stage": "done", "policy": "Customer confirmed"},
            ],
            "swimlanes": ["Urgent", "Normal"],
        },
        format="json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert [
        (c["name"], c["stage"], c["wip_limit"], c["wip_policy"], c["policy"])
        for c in body["columns"]
    ] == [
        ("Inbox", "backlog", None, "soft", ""),
        ("Fixing", "active", 2, "hard", ""),
        ("Closed", "done", None, "soft", "Customer confirmed"),
    ]
    assert [(s["name"], s["position"]) for s in body["swimlanes"]] == [("Urgent", 0), ("Normal", 1)]
    assert body["description"] == "Tickets"
    assert Column.objects.filter(board_id=body["id"]).count() == 3


@pytest.mark.parametrize("who", ["mia", "victor"])
def test_a_viewer_or_someone_off_the_team_cannot_create_a_board_for_it(world, api, who):
    before = Board.objects.count()
    response = api(getattr(world, who)).post(
        f"{API}/boards/", {"team": world.sales.pk, "name": "Mine"}, format="json"
    )
    assert_error(response, 403, "permission_denied")
    assert Board.objects.count() == before


def test_a_board_for_a_team_of_another_organisation_is_refused_and_not_created(world, api):
    before = Board.objects.count()
    response = api(world.gina).post(
        f"{API}/boards/", {"team": world.sales.pk, "name": "Takeover"}, format="json"
    )
    assert_invalid(response, "team")
    assert Board.objects.count() == before


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "No team"}, "team"),
        ({"team": "sales", "name": "x"}, "team"),
        ({"team": 1}, "name"),
        ({"team": 1, "name": ""}, "name"),
        ({"team": 1, "name": "x" * 121}, "name"),
        ({"team": 1, "name": "x", "columns": []}, "columns"),
        ({"team": 1, "name": "x", "columns": [{"name": "A", "stage": "limbo"}]}, "columns"),
        ({"team": 1, "name": "x", "columns": [{"name": "A", "wip_limit": 0}]}, "columns"),
        ({"team": 1, "name": "x", "columns": [{"name": "A", "wip_policy": "strict"}]}, "columns"),
        ({"team": 1, "name": "x", "swimlanes": "Default"}, "swimlanes"),
    ],
)
def test_creating_a_board_with_invalid_input_is_refused(world, api, payload, field):
    if payload.get("team") == 1:
        payload = {**payload, "team": world.sales.pk}
    before = Board.objects.count()
    response = api(world.alice).post(f"{API}/boards/", payload, format="json")
    assert_invalid(response, field)
    assert Board.objects.count() == before


# --- board detail, update, delete ------------------------------------------------------------


def test_board_detail_returns_the_whole_board_with_wip_and_its_seq(world, api):
    # given
    ready, doing = world.column("Ready"), world.column("Doing")
    services.update_column(doing, wip_limit=2, wip_policy=WipPolicy.HARD, actor=world.alice)
    label = services.create_label(world.board, name="vip", actor=world.alice)
    first = services.create_card(
        world.board,
        title="A",
        column=ready,
        assignees=[world.bob],
        labels=[label],
        actor=world.bob,
    )
    services.create_card(world.board, title="B", column=doing, actor=world.bob)
    archived = services.create_card(world.board, title="Gone", column=doing, actor=world.bob)
    services.archive_card(archived, actor=world.bob)

    # when
    response = api(world.victor).get(f"{API}/boards/{world.board.pk}/")

    # then
    assert response.status_code == 200
    body = response.json()
    world.board.refresh_from_db()
    assert body["seq"] == world.board.last_seq
    assert body["can_write"] is False  # victor is a viewer
    columns = {c["name"]: c for c in body["columns"]}
    assert list(columns) == ["Backlog", "Ready", "Doing", "Review", "Done"]
    assert columns["Doing"] == {
        "id": doing.pk,
        "board": world.board.pk,
        "name": "Doing",
        "stage": "active",
        "position": 2,
        "wip": 1,  # the archived card is not WIP
        "wip_limit": 2,
        "wip_policy": "hard",
        "policy": "",
    }
    assert columns["Ready"]["wip"] == 1
    assert [s["name"] for s in body["swimlanes"]] == ["Default"]
    assert body["labels"] == [
        {"id": label.pk, "board": world.board.pk, "name": "vip", "color": "#64748b"}
    ]
    assert {p["username"] for p in body["people"]} == {"bob", "victor"}
    assert sorted(c["title"] for c in body["cards"]) == ["A", "B"]
    card = next(c for c in body["cards"] if c["id"] == first.pk)
    assert card["assignees"] == [world.bob.pk] and card["labels"] == [label.pk]


@pytest.mark.parametrize("who", ["alice", "bob", "mia", "victor"])
def test_board_detail_tells_each_member_whether_they_can_write(world, api, who):
    response = api(getattr(world, who)).get(f"{API}/boards/{world.board.pk}/")
    assert response.json()["can_write"] is (who in ("alice", "bob"))


def test_patching_a_board_renames_it_and_logs_an_event(world, api):
    seq = Board.objects.get(pk=world.board.pk).last_seq
    response = api(world.bob).patch(
        f"{API}/boards/{world.board.pk}/",
        {"name": "Sales 2026", "description": "New year"},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["name"], body["description"], body["seq"]) == ("Sales 2026", "New year", seq + 1)
    world.board.refresh_from_db()
    assert (world.board.name, world.board.description) == ("Sales 2026", "New year")
    event = Event.objects.get(board=world.board, seq=seq + 1)
    assert event.type == "board.updated"
    assert event.data["changed"] == ["name", "description"]


def test_handing_a_board_to_another_team_is_for_managers(world, api):
    # given
    url = f"{API}/boards/{world.board.pk}/"

    # when: bob, a member of Sales, tries; then alice, the owner
    refused = api(world.bob).patch(url, {"team": world.product.pk}, format="json")
    world.board.refresh_from_db()
    team_after_refusal = world.board.team_id
    allowed = api(world.alice).patch(url, {"team": world.product.pk}, format="json")

    # then
    assert_error(refused, 403, "permission_denied")
    assert team_after_refusal == world.sales.pk
    assert allowed.status_code == 200
    assert allowed.json()["team"] == world.product.pk
    world.board.refresh_from_db()
    assert world.board.team_id == world.product.pk


def test_a_board_cannot_be_handed_to_a_team_of_another_organisation(world, api):
    response = api(world.alice).patch(
        f"{API}/boards/{world.board.pk}/",
        {"team": world.globex_board.team_id},
        format="json",
    )
    assert_invalid(response, "team")
    world.board.refresh_from_db()
    assert world.board.team_id == world.sales.pk


@pytest.mark.parametrize(
    "payload", [{"name": ""}, {"name": "x" * 121}, {"team": "sales"}, {"description": "x" * 5001}]
)
def test_patching_a_board_with_invalid_input_changes_nothing(world, api, payload):
    before = db_state()
    response = api(world.alice).patch(f"{API}/boards/{world.board.pk}/", payload, format="json")
    assert_invalid(response, next(iter(payload)))
    assert db_state() == before


def test_deleting_a_board_removes_it_with_everything_on_it(world, api, acme):
    response = api(world.adam).delete(f"{API}/boards/{world.board.pk}/")
    assert response.status_code == 204
    assert not Board.objects.filter(pk=world.board.pk).exists()
    assert not Card.objects.filter(board_id=world.board.pk).exists()
    assert not Column.objects.filter(board_id=world.board.pk).exists()
    assert Board.objects.filter(pk=world.globex_board.pk).exists()
    assert api(world.alice).get(f"{API}/boards/{world.board.pk}/").status_code == 404


def test_a_team_member_cannot_delete_the_board(world, api, acme):
    before = db_state()
    response = api(world.bob).delete(f"{API}/boards/{world.board.pk}/")
    assert_error(response, 403, "permission_denied")
    assert db_state() == before


# --- columns ---------------------------------------------------------------------------------


def test_creating_a_column_at_a_position_shifts_the_columns_to_its_right(world, api):
    # when
    response = api(world.bob).post(
        f"{API}/boards/{world.board.pk}/columns/",
        {"name": "Test", "stage": "active", "position": 3, "wip_limit": 4, "policy": "Green CI"},
        format="json",
    )

    # then
    assert response.status_code == 201, response.content
    body = response.json()
    column = Column.objects.get(pk=body["id"])
    assert body == {
        "id": column.pk,
        "board": world.board.pk,
        "name": "Test",
        "stage": "active",
        "position": 3,
        "wip": 0,
        "wip_limit": 4,
        "wip_policy": "soft",
        "policy": "Green CI",
    }
    names = list(world.board.columns.order_by("position").values_list("name", flat=True))
    assert names == ["Backlog", "Ready", "Doing", "Test", "Review", "Done"]
    assert Event.objects.filter(board=world.board, type="column.created").count() == 1


def test_a_column_without_a_position_goes_last(world, api):
    response = api(world.bob).post(
        f"{API}/boards/{world.board.pk}/columns/", {"name": "Shipped"}, format="json"
    )
    assert response.json()["position"] == 5
    assert response.json()["stage"] == "wait"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x" * 81}, "name"),
        ({"name": "A", "stage": "limbo"}, "stage"),
        ({"name": "A", "wip_limit": 0}, "wip_limit"),
        ({"name": "A", "wip_limit": "many"}, "wip_limit"),
        ({"name": "A", "wip_policy": "strict"}, "wip_policy"),
        ({"name": "A", "position": -1}, "position"),
    ],
)
def test_creating_a_column_with_invalid_input_is_refused(world, api, payload, field):
    before = db_state()
    response = api(world.alice).post(
        f"{API}/boards/{world.board.pk}/columns/", payload, format="json"
    )
    assert_invalid(response, field)
    assert db_state() == before


def test_column_detail_shows_its_wip(world, api):
    ready = world.column("Ready")
    services.create_card(world.board, title="A", column=ready, actor=world.bob)
    response = api(world.mia).get(f"{API}/columns/{ready.pk}/")
    assert response.status_code == 200
    assert response.json()["wip"] == 1 and response.json()["name"] == "Ready"


def test_patching_a_column_sets_a_hard_wip_limit_and_its_policy(world, api):
    doing = world.column("Doing")
    response = api(world.bob).patch(
        f"{API}/columns/{doing.pk}/",
        {"wip_limit": 3, "wip_policy": "hard", "policy": "Pair on everything", "position": 0},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["wip_limit"], body["wip_policy"], body["policy"], body["position"]) == (
        3,
        "hard",
        "Pair on everything",
        0,
    )
    doing.refresh_from_db()
    assert (doing.wip_limit, doing.wip_policy, doing.position) == (3, "hard", 0)
    names = list(world.board.columns.order_by("position").values_list("name", flat=True))
    assert names == ["Doing", "Backlog", "Ready", "Review", "Done"]
    event = Event.objects.filter(board=world.board, type="column.updated").get()
    assert set(event.data["changed"]) == {"wip_limit", "wip_policy", "policy", "position"}


def test_a_wip_limit_can_be_removed_with_null(world, api):
    doing = world.column("Doing")
    services.update_column(doing, wip_limit=2, actor=world.alice)
    response = api(world.bob).patch(f"{API}/columns/{doing.pk}/", {"wip_limit": None}, "json")
    assert response.status_code == 200
    doing.refresh_from_db()
    assert doing.wip_limit is None


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"wip_limit": 0}, "wip_limit"),
        ({"stage": "limbo"}, "stage"),
        ({"wip_policy": "strict"}, "wip_policy"),
        ({"position": -1}, "position"),
        ({"position": None}, "position"),
        ({"name": ""}, "name"),
    ],
)
def test_patching_a_column_with_invalid_input_changes_nothing(world, api, payload, field):
    before = db_state()
    response = api(world.alice).patch(
        f"{API}/columns/{world.column('Doing').pk}/", payload, format="json"
    )
    assert_invalid(response, field)
    assert db_state() == before


def test_deleting_an_empty_column_renumbers_the_others(world, api):
    review = world.column("Review")
    response = api(world.bob).delete(f"{API}/columns/{review.pk}/")
    assert response.status_code == 204
    assert not Column.objects.filter(pk=review.pk).exists()
    assert list(world.board.columns.order_by("position").values_list("name", "position")) == [
        ("Backlog", 0),
        ("Ready", 1),
        ("Doing", 2),
        ("Done", 3),
    ]


def test_deleting_a_column_that_holds_cards_is_a_conflict_and_changes_nothing(world, api):
    ready = world.column("Ready")
    services.create_card(world.board, title="A", column=ready, actor=world.bob)
    before = db_state()
    response = api(world.alice).delete(f"{API}/columns/{ready.pk}/")
    assert_error(response, 409, "conflict")
    assert db_state() == before


# --- swimlanes -------------------------------------------------------------------------------


def test_creating_a_swimlane_at_the_top_shifts_the_others_down(world, api):
    response = api(world.bob).post(
        f"{API}/boards/{world.board.pk}/swimlanes/",
        {"name": "Expedite", "position": 0, "wip_limit": 1},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body == {
        "id": body["id"],
        "board": world.board.pk,
        "name": "Expedite",
        "position": 0,
        "wip_limit": 1,
    }
    lanes = list(world.board.swimlanes.order_by("position").values_list("name", flat=True))
    assert lanes == ["Expedite", "Default"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "name"),
        ({"name": "A", "wip_limit": 0}, "wip_limit"),
        ({"name": "A", "position": -2}, "position"),
    ],
)
def test_creating_a_swimlane_with_invalid_input_is_refused(world, api, payload, field):
    before = db_state()
    response = api(world.bob).post(
        f"{API}/boards/{world.board.pk}/swimlanes/", payload, format="json"
    )
    assert_invalid(response, field)
    assert db_state() == before


def test_swimlane_detail_and_rename(world, api):
    lane = world.board.swimlanes.get()
    assert api(world.victor).get(f"{API}/swimlanes/{lane.pk}/").json()["name"] == "Default"
    response = api(world.bob).patch(f"{API}/swimlanes/{lane.pk}/", {"name": "Main"}, "json")
    assert response.status_code == 200
    assert response.json()["name"] == "Main"
    lane.refresh_from_db()
    assert lane.name == "Main"


def test_deleting_the_last_swimlane_is_a_conflict(world, api):
    lane = world.board.swimlanes.get()
    response = api(world.alice).delete(f"{API}/swimlanes/{lane.pk}/")
    assert_error(response, 409, "conflict")
    assert Swimlane.objects.filter(pk=lane.pk).exists()


def test_deleting_a_swimlane_that_holds_cards_is_a_conflict(world, api):
    lane = services.create_swimlane(world.board, name="Second", actor=world.alice)
    services.create_card(
        world.board, title="A", column=world.column("Ready"), swimlane=lane, actor=world.alice
    )
    before = db_state()
    response = api(world.alice).delete(f"{API}/swimlanes/{lane.pk}/")
    assert_error(response, 409, "conflict")
    assert db_state() == before


def test_deleting_an_empty_swimlane_removes_it(world, api):
    lane = services.create_swimlane(world.board, name="Second", position=0, actor=world.alice)
    response = api(world.bob).delete(f"{API}/swimlanes/{lane.pk}/")
    assert response.status_code == 204
    assert list(world.board.swimlanes.values_list("name", "position")) == [("Default", 0)]


# --- labels ----------------------------------------------------------------------------------


def test_labels_are_listed_by_name_for_every_member(world, api):
    services.create_label(world.board, name="zeta", actor=world.alice)
    services.create_label(world.board, name="alpha", color="#00ff00", actor=world.alice)
    services.create_label(world.globex_board, name="beta", actor=world.gina)
    response = api(world.mia).get(f"{API}/boards/{world.board.pk}/labels/")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert [(lb["name"], lb["color"]) for lb in body["results"]] == [
        ("alpha", "#00ff00"),
        ("zeta", "#64748b"),
    ]


def test_creating_a_label(world, api):
    response = api(world.bob).post(
        f"{API}/boards/{world.board.pk}/labels/", {"name": "vip", "color": "#AA00bb"}, "json"
    )
    assert response.status_code == 201
    label = Label.objects.get(board=world.board, name="vip")
    assert response.json() == {
        "id": label.pk,
        "board": world.board.pk,
        "name": "vip",
        "color": "#AA00bb",
    }


def test_a_label_name_is_unique_on_its_board(world, api):
    services.create_label(world.board, name="vip", actor=world.alice)
    response = api(world.bob).post(
        f"{API}/boards/{world.board.pk}/labels/", {"name": "vip"}, "json"
    )
    assert_error(response, 409, "conflict")
    assert Label.objects.filter(board=world.board).count() == 1


@pytest.mark.parametrize(
    "payload",
    [
        {"name": ""},
        {"name": "x" * 41},
        {"name": "a", "color": "red"},
        {"name": "a", "color": "#12345"},
    ],
)
def test_creating_a_label_with_invalid_input_is_refused(world, api, payload):
    response = api(world.bob).post(f"{API}/boards/{world.board.pk}/labels/", payload, "json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert not Label.objects.exists()


# --- event log -------------------------------------------------------------------------------


def test_events_since_n_are_the_events_after_n_in_seq_order(world, api):
    # given: board.created is seq 1; three cards make seq 2, 3, 4; a move makes seq 5
    ready, doing = world.column("Ready"), world.column("Doing")
    cards = [
        services.create_card(world.board, title=f"c{i}", column=ready, actor=world.bob)
        for i in range(3)
    ]
    services.move_card(cards[0], to_column=doing, actor=world.bob)
    other_ready = world.column("Ready", world.globex_board)
    services.create_card(world.globex_board, title="other", column=other_ready, actor=world.gina)

    # when
    response = api(world.victor).get(f"{API}/boards/{world.board.pk}/events/", {"since": 2})

    # then
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    events = body["results"]
    assert [e["seq"] for e in events] == [3, 4, 5]
    assert [e["type"] for e in events] == ["card.created", "card.created", "card.moved"]
    moved = events[-1]
    assert moved["board"] == world.board.pk
    assert moved["actor"] == {
        "id": world.bob.pk,
        "username": "bob",
        "name": world.bob.display_name,
    }
    assert moved["data"]["card"]["id"] == cards[0].pk
    assert (moved["data"]["from_column"], moved["data"]["to_column"]) == (ready.pk, doing.pk)
    assert set(moved) == {"type", "board", "seq", "at", "actor", "data"}


def test_events_without_since_start_at_the_beginning_and_past_the_end_are_empty(world, api):
    client = api(world.alice)
    url = f"{API}/boards/{world.board.pk}/events/"
    assert [e["seq"] for e in client.get(url).json()["results"]] == [1]
    assert client.get(url, {"since": 1}).json()["results"] == []
    assert client.get(url, {"since": 10**30}).json()["results"] == []


def test_events_of_another_board_are_not_mixed_in(world, api):
    response = api(world.gina).get(f"{API}/boards/{world.globex_board.pk}/events/")
    assert {e["board"] for e in response.json()["results"]} == {world.globex_board.pk}


@pytest.mark.parametrize("since", ["abc", "-1", "1.5", "", "²"])
def test_events_since_something_that_is_not_a_seq_is_refused(world, api, since):
    response = api(world.alice).get(f"{API}/boards/{world.board.pk}/events/", {"since": since})
    assert_invalid(response, "since")


# --- schema and docs -------------------------------------------------------------------------


def test_the_openapi_schema_is_served_and_describes_every_endpoint(world, client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    paths = schema["paths"]
    for pattern in ("boards/{board_id}/", "cards/{card_id}/move/", "auth/token/", "orgs/"):
        assert f"/api/v1/{pattern}" in paths
    # Scripts authenticate with a token: the schema must say how.
    assert schema["components"]["securitySchemes"]["tokenAuth"]["name"] == "Authorization"


def test_the_api_docs_render_as_html(world, client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert b"swagger" in response.content.lower()
