"""Activity feeds (boards.pages.activity, GET /api/v1/boards/{id}/activity/ and
/api/v1/orgs/{slug}/activity/): the event log read as sentences, newest first, per board and
across the organisation, paginated at a query cost that does not grow with the page."""

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from boards import services
from boards.flow import alerts
from boards.models import Event
from boards.pages import activity

pytestmark = pytest.mark.django_db

API = "/api/v1"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def named(world):
    """Users whose display name is their username, so that sentences read as in the docs."""
    for user in (world.alice, world.bob, world.gina):
        user.first_name = user.last_name = ""
        user.save(update_fields=["first_name", "last_name"])
    return world


def texts(board) -> list[str]:
    events = list(activity.board_activity(board))
    return [activity.describe(e, activity.Names.of(events)) for e in events]


def test_a_move_reads_who_moved_what_from_where_to_where(named):
    world = named
    ready, doing = world.column("Ready"), world.column("Doing")
    card = services.create_card(world.board, title="Fix login", column=ready, actor=world.bob)

    services.move_card(card, to_column=doing, actor=world.alice)

    newest = activity.board_activity(world.board).first()
    assert activity.describe(newest) == "alice moved “Fix login” from Ready to Doing"


def test_every_kind_of_change_has_its_sentence(named):
    # given: one of every change the services make, and a WIP alert raised then closed
    world = named
    board, alice, bob = world.board, world.alice, world.bob
    ready, doing = world.column("Ready"), world.column("Doing")
    services.update_board(board, name="Sales", actor=alice)
    extra = services.create_column(board, name="Test", actor=alice)
    services.update_column(doing, wip_limit=1, actor=alice)
    services.update_column(extra, name="QA", actor=alice)
    services.delete_column(extra, actor=alice)
    lane = services.create_swimlane(board, name="Expedite", actor=alice)
    services.update_swimlane(lane, name="Urgent", actor=alice)
    services.delete_swimlane(lane, actor=alice)
    services.create_label(board, name="bug", actor=alice)
    card = services.create_card(board, title="Fix login", column=ready, actor=bob)
    services.update_card(card, title="Fix the login", actor=bob)
    services.block_card(card, reason="Waiting for legal", actor=bob)
    services.unblock_card(card, actor=bob)
    services.add_comment(card, body="Legal said yes.\nShipping it.", actor=alice)
    services.move_card(card, to_column=doing, actor=bob)
    other = services.create_card(board, title="Second", column=doing, actor=bob)
    alerts.check_wip_alerts(board.pk)
    services.move_card(other, to_column=ready, actor=bob)
    alerts.check_wip_alerts(board.pk)
    services.archive_card(other, actor=bob)
    services.restore_card(other, actor=bob)
    services.delete_card(other, actor=bob)

    # when
    sentences = texts(board)[::-1]

    # then (oldest first here)
    assert sentences == [
        "alice created the board Sales pipeline",
        "alice renamed the board to Sales",
        "alice added the column Test",
        "alice set the WIP limit of Doing to 1",
        "alice changed the column QA (name)",
        "alice deleted the column QA",
        "alice added the swimlane Expedite",
        "alice changed the swimlane Urgent (name)",
        "alice deleted the swimlane Urgent",
        "alice added the label bug",
        "bob added “Fix login” to Ready",
        "bob edited “Fix the login” (title)",
        "bob blocked “Fix the login”: Waiting for legal",
        "bob unblocked “Fix the login” after less than an hour",
        "alice commented on “Fix the login”: Legal said yes. Shipping it.",
        "bob moved “Fix the login” from Ready to Doing",
        "bob added “Second” to Doing",
        "alert: Doing is over its WIP limit (2/1)",
        "bob moved “Second” from Doing to Ready",
        "alert closed: Doing is back within its WIP limit",
        "bob archived “Second”",
        "bob restored “Second”",
        "bob deleted “Second”",
    ]


def test_a_hard_limit_override_and_its_alert_are_told(named):
    world = named
    doing = world.column("Doing")
    services.update_column(doing, wip_limit=1, wip_policy="hard", actor=world.alice)
    services.create_card(world.board, title="One", column=doing, actor=world.alice)
    card = services.create_card(
        world.board, title="Two", column=world.column("Ready"), actor=world.alice
    )

    services.move_card(card, to_column=doing, override_reason="Outage", actor=world.alice)

    newest_two = texts(world.board)[:2]
    assert newest_two == [
        "alert: Doing: hard WIP limit 1 overridden by alice: Outage",
        "alice moved “Two” from Ready to Doing, overriding the hard WIP limit: Outage",
    ]


def test_every_event_type_the_services_emit_has_its_own_sentence():
    # Every type="..." passed to append_event by the services and the alerts, found in the code
    # so that a new type without a sentence fails here.
    writers = [
        *(ROOT / "boards/services").glob("*.py"),
        ROOT / "boards/flow/alerts.py",
        ROOT / "boards/kaizen/services.py",
    ]
    source = "".join(path.read_text() for path in writers)
    types = set(re.findall(r'type="([a-z_]+\.[a-z_]+)"', source))
    assert {"card.moved", "alert.raised", "label.created", "column.deleted"} <= types
    assert {"improvement.started", "improvement.reviewed"} <= types

    for event_type in types:
        event = Event(board_id=1, seq=1, type=event_type, data={})
        text = activity.describe(event, activity.Names())
        assert text != f"Someone: {event_type}", event_type


def test_an_unblock_tells_how_long_the_card_was_blocked(named):
    world = named
    card = services.create_card(
        world.board, title="Wait", column=world.column("Ready"), actor=world.bob
    )
    start = card.created_at
    services.block_card(card, reason="Vendor", actor=world.bob, at=start)
    services.unblock_card(card, actor=world.bob, at=start + timedelta(days=2, hours=12))

    assert texts(world.board)[0] == "bob unblocked “Wait” after 2.5 days"


def test_a_column_deleted_since_the_move_is_named_as_such(named):
    world = named
    extra = services.create_column(world.board, name="Spare", actor=world.alice)
    card = services.create_card(world.board, title="X", column=extra, actor=world.alice)
    services.move_card(card, to_column=world.column("Ready"), actor=world.alice)
    card.refresh_from_db()
    services.move_card(card, to_column=world.column("Doing"), actor=world.alice)
    services.delete_column(extra, actor=world.alice)

    assert "alice moved “X” from a deleted column to Ready" in texts(world.board)


# --- the API ---------------------------------------------------------------------------------


def test_board_activity_lists_the_boards_events_newest_first(named, api):
    world = named
    card = services.create_card(
        world.board, title="Fix login", column=world.column("Ready"), actor=world.bob
    )
    services.move_card(card, to_column=world.column("Doing"), actor=world.bob)

    response = api(world.victor).get(f"{API}/boards/{world.board.pk}/activity/")

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    first, second, third = body["results"]
    assert [first["seq"], second["seq"], third["seq"]] == [3, 2, 1]
    assert first == {
        "seq": 3,
        "board": world.board.pk,
        "board_name": "Sales pipeline",
        "type": "card.moved",
        "at": first["at"],
        "actor": {"id": world.bob.pk, "username": "bob", "name": "bob"},
        "text": "bob moved “Fix login” from Ready to Doing",
        "card": card.pk,
    }
    assert third["type"] == "board.created"
    assert third["card"] is None


def test_org_activity_spans_every_board_of_the_organisation_and_no_other(named, api):
    world = named
    roadmap = services.create_board(team=world.product, name="Roadmap", actor=world.alice)
    services.create_card(
        roadmap, title="Plan", column=roadmap.columns.get(name="Ready"), actor=world.alice
    )
    services.create_card(
        world.globex_board,
        title="Secret",
        column=world.column("Ready", world.globex_board),
        actor=world.gina,
    )

    response = api(world.mia).get(f"{API}/orgs/acme/activity/")

    assert response.status_code == 200
    results = response.json()["results"]
    assert [(r["board_name"], r["text"]) for r in results] == [
        ("Roadmap", "alice added “Plan” to Ready"),
        ("Roadmap", "alice created the board Roadmap"),
        ("Sales pipeline", "alice created the board Sales pipeline"),
    ]


def test_activity_of_another_organisation_is_not_found(named, api):
    world = named
    assert api(world.gina).get(f"{API}/orgs/acme/activity/").status_code == 404
    response = api(world.gina).get(f"{API}/boards/{world.board.pk}/activity/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert api(None).get(f"{API}/orgs/acme/activity/").status_code == 401


def test_activity_is_paginated(named, api):
    world = named
    for i in range(7):
        services.create_card(
            world.board, title=f"c{i}", column=world.column("Ready"), actor=world.alice
        )
    client = api(world.alice)

    first = client.get(f"{API}/boards/{world.board.pk}/activity/?page_size=5").json()
    second = client.get(first["next"]).json()

    assert first["count"] == 8
    assert [r["seq"] for r in first["results"]] == [8, 7, 6, 5, 4]
    assert [r["seq"] for r in second["results"]] == [3, 2, 1]
    assert second["next"] is None


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def test_a_page_of_activity_costs_the_same_queries_whatever_its_size(named, api):
    # given: moves, comments and alerts, which name columns and cards by id
    world = named
    board = world.board
    ready, doing = world.column("Ready"), world.column("Doing")
    services.update_column(doing, wip_limit=2, actor=world.alice)
    for i in range(12):
        card = services.create_card(board, title=f"c{i}", column=ready, actor=world.bob)
        services.move_card(card, to_column=doing, actor=world.bob)
        services.add_comment(card, body=f"note {i}", actor=world.alice)
        alerts.check_wip_alerts(board.pk)
    client = api(world.alice)
    assert client.get(f"{API}/me/").status_code == 200  # the token's first use is behind us

    # when
    costs = {
        size: (
            _queries(client, f"{API}/boards/{board.pk}/activity/?page_size={size}"),
            _queries(client, f"{API}/orgs/acme/activity/?page_size={size}"),
        )
        for size in (3, 40)
    }

    # then
    assert costs[3] == costs[40]
    assert costs[40][0] <= 6  # token, board, count, page, column names, card titles
