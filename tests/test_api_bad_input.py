"""What the API does with input it should not trust: malformed bodies, wrong types, ids from
elsewhere, out-of-range values, oversized bodies. Always a JSON error, never a 500, and nothing
created or changed."""

import json

import pytest

from boards import services
from boards.models import Board, Card, CardMove, Column, Event, Label, WipPolicy
from tests.factories import position_of

pytestmark = pytest.mark.django_db

API = "/api/v1"


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["code"] == code, body
    assert isinstance(body["detail"], str) and body["detail"]
    return body


def assert_invalid(response, field: str) -> dict:
    body = assert_error(response, 400, "invalid")
    assert field in body["fields"], body
    assert isinstance(body["fields"][field], list | dict)
    return body


def state(board: Board) -> tuple:
    board.refresh_from_db()
    return (
        board.last_seq,
        list(
            Card.objects.order_by("pk").values_list(
                "pk", "column_id", "swimlane_id", "rank", "title", "value", "archived"
            )
        ),
        CardMove.objects.count(),
        Event.objects.count(),
    )


def cards_url(world) -> str:
    return f"{API}/boards/{world.board.pk}/cards/"


def new_card(world, **fields) -> dict:
    return {"title": "New", "column": world.column("Ready").pk, **fields}


# --- malformed bodies ------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ['{"title": "x",', "{'title': 'x'}", "not json", '{"a": 1}}'])
def test_malformed_json_is_a_400_malformed_request_and_creates_nothing(world, api, raw):
    before = state(world.board)
    response = api(world.bob).post(cards_url(world), raw, content_type="application/json")
    assert_error(response, 400, "malformed_request")
    assert state(world.board) == before


@pytest.mark.parametrize("raw", ["[1, 2]", '"a string"', "42", "null", '[{"title": "x"}]'])
def test_a_body_that_is_not_an_object_is_refused(world, api, raw):
    before = state(world.board)
    response = api(world.bob).post(cards_url(world), raw, content_type="application/json")
    body = assert_invalid(response, "non_field_errors")
    assert body["detail"]
    assert state(world.board) == before


def test_a_list_instead_of_an_object_is_refused_on_patch_and_move_too(world, api):
    card = services.create_card(
        world.board, title="A", column=world.column("Ready"), actor=world.bob
    )
    before = state(world.board)
    client, body = api(world.bob), json.dumps([{"title": "B", "column": card.column_id}])
    patched = client.patch(f"{API}/cards/{card.pk}/", body, content_type="application/json")
    moved = client.post(f"{API}/cards/{card.pk}/move/", body, content_type="application/json")
    assert_invalid(patched, "non_field_errors")
    assert_invalid(moved, "non_field_errors")
    assert state(world.board) == before


def test_a_form_encoded_body_is_an_unsupported_media_type(world, api):
    before = state(world.board)
    response = api(world.bob).post(
        cards_url(world), "title=x", content_type="application/x-www-form-urlencoded"
    )
    assert_error(response, 415, "unsupported_media_type")
    assert state(world.board) == before


def test_a_10_mb_body_is_refused_with_413_before_it_is_read(world, api):
    # given
    before = state(world.board)
    body = json.dumps(new_card(world, description="x" * (10 * 1024 * 1024)))

    # when
    response = api(world.bob).post(cards_url(world), body, content_type="application/json")

    # then
    payload = assert_error(response, 413, "payload_too_large")
    assert "bytes" in payload["detail"]
    assert state(world.board) == before


def test_the_body_limit_is_the_setting_and_a_body_under_it_is_read(world, api, settings):
    # given: a limit of 30 kB
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 30_000
    client = api(world.bob)

    # when: one body over it, one under it (with a description one past the field's limit)
    over = client.post(cards_url(world), new_card(world, description="x" * 40_000), "json")
    under = client.post(cards_url(world), new_card(world, description="x" * 20_001), "json")

    # then
    assert_error(over, 413, "payload_too_large")
    assert "30000 bytes" in over.json()["detail"]
    assert_invalid(under, "description")


# --- wrong types -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"column": "Ready"}, "column"),
        ({"column": "abc"}, "column"),
        ({"column": True}, "column"),
        ({"column": 1.5}, "column"),
        ({"column": None}, "column"),
        ({"column": [1]}, "column"),
        ({"column": {"id": 1}}, "column"),
        ({"title": ["a", "b"]}, "title"),
        ({"title": {"text": "a"}}, "title"),
        ({"assignees": "bob"}, "assignees"),
        ({"assignees": ["bob"]}, "assignees"),
        ({"labels": {"id": 1}}, "labels"),
        ({"value": "high"}, "value"),
        ({"position": "top"}, "position"),
        ({"swimlane": "Default"}, "swimlane"),
        ({"due_date": "next friday"}, "due_date"),
        ({"due_date": "2026-02-30"}, "due_date"),
    ],
)
def test_a_field_of_the_wrong_type_is_refused_and_nothing_is_created(world, api, fields, field):
    before = state(world.board)
    response = api(world.bob).post(cards_url(world), new_card(world, **fields), format="json")
    assert_invalid(response, field)
    assert state(world.board) == before


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"column": "Doing"}, "column"),
        ({"column": None}, "column"),
        ({}, "column"),
        ({"column": 1, "position": "last"}, "position"),
        ({"column": 1, "swimlane": "x"}, "swimlane"),
        ({"column": 1, "override_reason": ["x"]}, "override_reason"),
    ],
)
def test_a_move_with_a_field_of_the_wrong_type_is_refused_and_changes_nothing(
    world, api, payload, field
):
    card = services.create_card(
        world.board, title="A", column=world.column("Ready"), actor=world.bob
    )
    if payload.get("column") == 1:
        payload = {**payload, "column": world.column("Doing").pk}
    before = state(world.board)
    response = api(world.bob).post(f"{API}/cards/{card.pk}/move/", payload, format="json")
    assert_invalid(response, field)
    assert state(world.board) == before


# --- ids from elsewhere ----------------------------------------------------------------------


@pytest.fixture
def elsewhere(world):
    """Ids that exist, but not on the Sales board: on another Acme board, or in Globex."""
    roadmap = services.create_board(team=world.product, name="Roadmap", actor=world.alice)
    globex = world.globex_board
    return {
        "other_board_column": roadmap.columns.get(name="Ready").pk,
        "other_org_column": globex.columns.get(name="Ready").pk,
        "other_board_swimlane": roadmap.swimlanes.get().pk,
        "other_org_swimlane": globex.swimlanes.get().pk,
        "other_board_label": services.create_label(roadmap, name="x", actor=world.alice).pk,
        "other_org_label": services.create_label(globex, name="x", actor=world.gina).pk,
        "other_org_user": world.gina.pk,
        "unknown": 10**9,
        "huge": 10**20,
    }


@pytest.mark.parametrize(
    ("field", "key"),
    [
        ("column", "other_board_column"),
        ("column", "other_org_column"),
        ("column", "unknown"),
        ("column", "huge"),
        ("swimlane", "other_board_swimlane"),
        ("swimlane", "other_org_swimlane"),
        ("swimlane", "unknown"),
        ("assignees", "other_org_user"),
        ("assignees", "unknown"),
        ("assignees", "huge"),
        ("labels", "other_board_label"),
        ("labels", "other_org_label"),
        ("labels", "unknown"),
    ],
)
def test_creating_a_card_with_an_id_from_elsewhere_is_refused_and_creates_nothing(
    world, api, elsewhere, field, key
):
    value = [elsewhere[key]] if field in ("assignees", "labels") else elsewhere[key]
    before = state(world.board)
    response = api(world.bob).post(cards_url(world), new_card(world, **{field: value}), "json")
    assert_invalid(response, field)
    assert state(world.board) == before
    assert Card.objects.count() == 0


@pytest.mark.parametrize(
    ("field", "key"),
    [
        ("column", "other_board_column"),
        ("column", "other_org_column"),
        ("column", "huge"),
        ("swimlane", "other_board_swimlane"),
        ("swimlane", "other_org_swimlane"),
    ],
)
def test_moving_a_card_to_a_place_of_another_board_is_refused_and_changes_nothing(
    world, api, elsewhere, field, key
):
    card = services.create_card(
        world.board, title="A", column=world.column("Ready"), actor=world.bob
    )
    payload = {"column": world.column("Doing").pk, field: elsewhere[key]}
    before = state(world.board)
    response = api(world.bob).post(f"{API}/cards/{card.pk}/move/", payload, format="json")
    assert_invalid(response, field)
    assert state(world.board) == before


@pytest.mark.parametrize(
    ("field", "key"),
    [
        ("assignees", "other_org_user"),
        ("labels", "other_board_label"),
        ("labels", "other_org_label"),
    ],
)
def test_patching_a_card_with_an_id_from_elsewhere_changes_nothing(
    world, api, elsewhere, field, key
):
    card = services.create_card(
        world.board, title="A", column=world.column("Ready"), actor=world.bob
    )
    before = state(world.board)
    response = api(world.bob).patch(
        f"{API}/cards/{card.pk}/", {field: [elsewhere[key]], "title": "B"}, format="json"
    )
    assert_invalid(response, field)
    assert state(world.board) == before
    assert not card.labels.exists() and not card.assignees.exists()


# --- positions -------------------------------------------------------------------------------


def test_a_position_past_the_end_is_clamped_to_the_end_on_create(world, api):
    ready = world.column("Ready")
    first, second = (
        services.create_card(world.board, title=t, column=ready, actor=world.bob) for t in "AB"
    )
    response = api(world.bob).post(cards_url(world), new_card(world, position=500), "json")
    assert response.status_code == 201
    assert response.json()["position"] == 2
    card = Card.objects.get(pk=response.json()["id"])
    assert position_of(card) == 2
    assert list(
        Card.objects.filter(column=ready).order_by("rank").values_list("pk", flat=True)
    ) == [first.pk, second.pk, card.pk]


@pytest.mark.parametrize("position", [3, 500, 10**12])
def test_a_position_past_the_end_is_clamped_to_the_end_on_move(world, api, position):
    ready, doing = world.column("Ready"), world.column("Doing")
    card = services.create_card(world.board, title="A", column=ready, actor=world.bob)
    for title in "XY":
        services.create_card(world.board, title=title, column=doing, actor=world.bob)

    response = api(world.bob).post(
        f"{API}/cards/{card.pk}/move/", {"column": doing.pk, "position": position}, "json"
    )

    assert response.status_code == 200, response.content
    assert response.json()["card"]["position"] == 2
    card.refresh_from_db()
    assert (card.column_id, position_of(card)) == (doing.pk, 2)
    assert CardMove.objects.filter(card=card).last().position == 2


@pytest.mark.parametrize("position", [-1, -500])
def test_a_negative_position_is_refused_on_create(world, api, position):
    before = state(world.board)
    response = api(world.bob).post(cards_url(world), new_card(world, position=position), "json")
    assert_invalid(response, "position")
    assert state(world.board) == before


@pytest.mark.parametrize("position", [-1, -500])
def test_a_negative_position_is_refused_on_move(world, api, position):
    card = services.create_card(
        world.board, title="A", column=world.column("Ready"), actor=world.bob
    )
    before = state(world.board)
    response = api(world.bob).post(
        f"{API}/cards/{card.pk}/move/",
        {"column": world.column("Doing").pk, "position": position},
        format="json",
    )
    assert_invalid(response, "position")
    assert state(world.board) == before


# --- out-of-range values ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"title": "x" * 10_000}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "a\x00b"}, "title"),
        ({"value": 101}, "value"),
        ({"value": -1}, "value"),
        ({"value": 10**20}, "value"),
        ({"class_of_service": "urgent"}, "class_of_service"),
        ({"class_of_service": "EXPEDITE"}, "class_of_service"),
        ({"class_of_service": None}, "class_of_service"),
        ({"customer": "x" * 121}, "customer"),
        ({"description": "x" * 20_001}, "description"),
        ({"assignees": list(range(1, 22))}, "assignees"),
        ({"override_reason": "x" * 501}, "override_reason"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_a_card_with_an_out_of_range_value_is_refused_and_nothing_is_created(
    world, api, fields, field
):
    before = state(world.board)
    response = api(world.bob).post(cards_url(world), new_card(world, **fields), format="json")
    assert_invalid(response, field)
    assert state(world.board) == before


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"title": "x" * 10_000}, "title"),
        ({"value": 101}, "value"),
        ({"class_of_service": "urgent"}, "class_of_service"),
        ({"archived": "maybe"}, "archived"),
        ({"column": 1}, "column"),
        ({"position": 0}, "position"),
        ({"swimlane": 1}, "swimlane"),
        ({"title": "Fine", "column": 1}, "column"),
        ({"title": "Fine", "position": 3}, "position"),
    ],
)
def test_a_patch_with_a_bad_value_or_trying_to_move_the_card_changes_nothing(
    world, api, payload, field
):
    card = services.create_card(
        world.board, title="A", column=world.column("Ready"), actor=world.bob
    )
    before = state(world.board)
    response = api(world.bob).patch(f"{API}/cards/{card.pk}/", payload, format="json")
    body = assert_invalid(response, field)
    if field in ("column", "position", "swimlane"):
        assert "/move/" in str(body["fields"][field])  # the error says where moves go
    assert state(world.board) == before


@pytest.mark.parametrize("field", ["position", "column", "expected_column", "swimlane"])
def test_a_number_past_the_databases_integers_in_a_body_is_refused_and_changes_nothing(
    world, api, field
):
    # The fuzzer's find: a move with position 16,600,974,794,208,393,035,776 reached the
    # statement (bigint out of range, a 500). Any integer past bigint is refused by the parser.
    card = services.create_card(
        world.board, title="A", column=world.column("Ready"), actor=world.bob
    )
    body = {"column": world.column("Doing").pk, field: 16_600_974_794_208_393_035_776}
    before = state(world.board)
    response = api(world.bob).post(f"{API}/cards/{card.pk}/move/", body, format="json")
    assert_invalid(response, field)
    assert state(world.board) == before


def test_ids_too_large_for_the_database_are_not_found_not_a_crash(world, api):
    huge = 10**20
    client = api(world.alice)
    for path in (
        f"{API}/boards/{huge}/",
        f"{API}/cards/{huge}/",
        f"{API}/columns/{huge}/",
        f"{API}/swimlanes/{huge}/",
        f"{API}/boards/{huge}/events/",
    ):
        assert_error(client.get(path), 404, "not_found")
    assert client.get(f"{API}/cards/", {"board": huge}).json()["count"] == 0
    assert client.get(f"{API}/boards/", {"team": huge}).json()["count"] == 0


@pytest.mark.parametrize(
    ("payload", "field"),
    [({"name": "x" * 81}, "name"), ({"name": "A", "wip_limit": 10_001}, "wip_limit")],
)
def test_a_column_with_an_out_of_range_value_is_refused(world, api, payload, field):
    before = Column.objects.count()
    response = api(world.bob).post(f"{API}/boards/{world.board.pk}/columns/", payload, "json")
    assert_invalid(response, field)
    assert Column.objects.count() == before


def test_a_label_with_a_null_character_is_refused(world, api):
    response = api(world.bob).post(
        f"{API}/boards/{world.board.pk}/labels/", {"name": "a\x00b"}, format="json"
    )
    assert_invalid(response, "name")
    assert not Label.objects.exists()


def test_a_hard_limit_refusal_is_json_with_the_column_in_fields(world, api):
    doing = world.column("Doing")
    services.update_column(doing, wip_limit=1, wip_policy=WipPolicy.HARD, actor=world.alice)
    services.create_card(world.board, title="A", column=doing, actor=world.bob)
    response = api(world.bob).post(cards_url(world), {"title": "B", "column": doing.pk}, "json")
    body = assert_error(response, 409, "wip_limit_exceeded")
    assert set(body) == {"code", "detail", "fields"}
    assert "column" in body["fields"]
