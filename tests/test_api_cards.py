"""The REST API for cards: create, read, edit, archive, delete, move (with WIP limits), block,
comments, history and search. Who may call what is in test_api_boards.py's matrix."""

import pytest

from boards import services
from boards.models import Block, Board, Card, CardMove, Comment, Event, WipPolicy
from tests.factories import position_of

pytestmark = pytest.mark.django_db

API = "/api/v1"

CARD_KEYS = {
    "id",
    "board",
    "column",
    "swimlane",
    "position",
    "title",
    "description",
    "description_html",
    "assignees",
    "labels",
    "value",
    "customer",
    "class_of_service",
    "due_date",
    "blocked",
    "block_reason",
    "archived",
    "created_at",
    "updated_at",
    "committed_at",
    "started_at",
    "finished_at",
    "age_days",
    "version",
}


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code, body
    assert isinstance(body["detail"], str) and body["detail"]
    return body


def make_cards(world, column, n, **kwargs) -> list[Card]:
    return [
        services.create_card(
            world.board, title=f"card {i}", column=column, actor=world.alice, **kwargs
        )
        for i in range(n)
    ]


def place(card: Card) -> tuple:
    card.refresh_from_db()
    return card.column_id, card.swimlane_id, position_of(card), card.archived


def board_log(board: Board) -> tuple[int, int, int]:
    """(last_seq, events, history rows) of a board: all three move together on any change."""
    board.refresh_from_db()
    return (
        board.last_seq,
        Event.objects.filter(board=board).count(),
        CardMove.objects.filter(board=board).count(),
    )


def full_hard_column(world, name="Doing", limit=2):
    column = world.column(name)
    services.update_column(column, wip_limit=limit, wip_policy=WipPolicy.HARD, actor=world.alice)
    make_cards(world, column, limit)
    return column


# --- create and read -------------------------------------------------------------------------


def test_creating_a_card_answers_it_and_records_its_creation(world, api):
    # given
    ready = world.column("Ready")
    label = services.create_label(world.board, name="vip", actor=world.alice)
    seq, events, moves = board_log(world.board)

    # when
    response = api(world.bob).post(
        f"{API}/boards/{world.board.pk}/cards/",
        {
            "title": "Quote for Initech",
            "description": "**Urgent** <script>alert(1)</script>",
            "column": ready.pk,
            "assignees": [world.bob.pk, world.mia.pk],
            "labels": [label.pk],
            "value": 80,
            "customer": "Initech",
            "class_of_service": "fixed_date",
            "due_date": "2026-12-24",
        },
        format="json",
    )

    # then
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == CARD_KEYS
    card = Card.objects.get(pk=body["id"])
    assert body["board"] == world.board.pk
    assert (body["column"], body["swimlane"], body["position"]) == (
        ready.pk,
        world.board.swimlanes.get().pk,
        0,
    )
    assert (body["title"], body["value"], body["customer"]) == ("Quote for Initech", 80, "Initech")
    assert (body["class_of_service"], body["due_date"]) == ("fixed_date", "2026-12-24")
    assert body["assignees"] == sorted([world.bob.pk, world.mia.pk])
    assert body["labels"] == [label.pk]
    assert body["blocked"] is False and body["block_reason"] == "" and body["archived"] is False
    assert "<strong>Urgent</strong>" in body["description_html"]
    assert "<script>" not in body["description_html"]
    # Created outside the backlog: committed at creation, not started (Ready is a wait stage).
    assert body["committed_at"] == body["created_at"] and body["started_at"] is None
    assert isinstance(body["age_days"], float)

    assert (card.title, card.column_id, position_of(card), card.created_by_id) == (
        "Quote for Initech",
        ready.pk,
        0,
        world.bob.pk,
    )
    assert set(card.assignees.values_list("pk", flat=True)) == {world.bob.pk, world.mia.pk}
    assert board_log(world.board) == (seq + 1, events + 1, moves + 1)
    event = Event.objects.get(board=world.board, seq=seq + 1)
    assert event.type == "card.created" and event.data["card"]["id"] == card.pk
    creation = CardMove.objects.get(card=card)
    assert (creation.from_column_id, creation.to_column_id, creation.actor_id) == (
        None,
        ready.pk,
        world.bob.pk,
    )


def test_a_card_created_in_the_backlog_is_not_committed_yet(world, api):
    response = api(world.bob).post(
        f"{API}/boards/{world.board.pk}/cards/",
        {"title": "Idea", "column": world.column("Backlog").pk},
        format="json",
    )
    body = response.json()
    assert body["committed_at"] is None
    assert (body["value"], body["class_of_service"], body["description"]) == (50, "standard", "")


def test_a_card_created_at_a_position_shifts_the_cards_below(world, api):
    ready = world.column("Ready")
    first, second = make_cards(world, ready, 2)
    response = api(world.bob).post(
        f"{API}/boards/{world.board.pk}/cards/",
        {"title": "Top", "column": ready.pk, "position": 0},
        format="json",
    )
    assert response.json()["position"] == 0
    assert (place(first)[2], place(second)[2]) == (1, 2)


def test_a_card_can_be_created_in_another_swimlane(world, api):
    lane = services.create_swimlane(world.board, name="Expedite", actor=world.alice)
    response = api(world.bob).post(
        f"{API}/boards/{world.board.pk}/cards/",
        {"title": "Hotfix", "column": world.column("Doing").pk, "swimlane": lane.pk},
        format="json",
    )
    assert response.status_code == 201
    assert Card.objects.get(pk=response.json()["id"]).swimlane_id == lane.pk


@pytest.mark.parametrize("who", ["alice", "adam", "bob", "mia", "victor"])
def test_every_member_of_the_organisation_reads_a_card(world, api, who):
    (card,) = make_cards(world, world.column("Ready"), 1)
    response = api(getattr(world, who)).get(f"{API}/cards/{card.pk}/")
    assert response.status_code == 200
    assert set(response.json()) == CARD_KEYS
    assert response.json()["id"] == card.pk


# --- edit, archive, delete -------------------------------------------------------------------


def test_patching_a_card_edits_its_content_and_logs_what_changed(world, api):
    # given
    (card,) = make_cards(world, world.column("Ready"), 1)
    label = services.create_label(world.board, name="vip", actor=world.alice)
    seq = board_log(world.board)[0]

    # when
    response = api(world.bob).patch(
        f"{API}/cards/{card.pk}/",
        {
            "title": "Renamed",
            "description": "# Scope",
            "value": 90,
            "labels": [label.pk],
            "assignees": [world.mia.pk],
            "due_date": None,
            "class_of_service": "expedite",
        },
        format="json",
    )

    # then
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["title"], body["value"], body["class_of_service"]) == ("Renamed", 90, "expedite")
    assert body["labels"] == [label.pk] and body["assignees"] == [world.mia.pk]
    assert body["description_html"] == "<h1>Scope</h1>"
    card.refresh_from_db()
    assert (card.title, card.value, card.class_of_service) == ("Renamed", 90, "expedite")
    event = Event.objects.get(board=world.board, seq=seq + 1)
    assert event.type == "card.updated"
    assert set(event.data["changed"]) == {
        "title",
        "description",
        "value",
        "labels",
        "assignees",
        "class_of_service",
    }


def test_a_patch_that_changes_nothing_logs_nothing(world, api):
    (card,) = make_cards(world, world.column("Ready"), 1)
    before = board_log(world.board)
    response = api(world.bob).patch(f"{API}/cards/{card.pk}/", {"title": card.title}, "json")
    assert response.status_code == 200
    assert board_log(world.board) == before


@pytest.mark.parametrize("who", ["victor", "mia"])
def test_an_empty_patch_from_someone_who_cannot_write_is_refused(world, api, who):
    (card,) = make_cards(world, world.column("Ready"), 1)
    response = api(getattr(world, who)).patch(f"{API}/cards/{card.pk}/", {}, format="json")
    assert_error(response, 403, "permission_denied")


def test_archiving_a_card_takes_it_off_the_board_and_restoring_puts_it_last(world, api):
    # given
    ready = world.column("Ready")
    first, second, third = make_cards(world, ready, 3)
    client = api(world.bob)

    # when
    archived = client.patch(f"{API}/cards/{first.pk}/", {"archived": True}, format="json")

    # then
    assert archived.status_code == 200
    assert (archived.json()["archived"], archived.json()["position"]) == (True, None)
    assert place(second)[2:] == (0, False) and place(third)[2:] == (1, False)
    board = client.get(f"{API}/boards/{world.board.pk}/").json()
    assert first.pk not in {c["id"] for c in board["cards"]}
    assert next(c for c in board["columns"] if c["id"] == ready.pk)["wip"] == 2

    # when
    restored = client.patch(f"{API}/cards/{first.pk}/", {"archived": False}, format="json")

    # then
    assert restored.status_code == 200
    assert (restored.json()["archived"], restored.json()["position"]) == (False, 2)


def test_restoring_a_card_into_a_full_hard_column_is_refused(world, api):
    doing = world.column("Doing")
    (card,) = make_cards(world, doing, 1)
    services.archive_card(card, actor=world.alice)
    services.update_column(doing, wip_limit=1, wip_policy=WipPolicy.HARD, actor=world.alice)
    make_cards(world, doing, 1)
    before = board_log(world.board)

    response = api(world.bob).patch(f"{API}/cards/{card.pk}/", {"archived": False}, "json")

    assert_error(response, 409, "wip_limit_exceeded")
    assert place(card)[3] is True
    assert board_log(world.board) == before


def test_an_edit_and_an_archive_in_one_patch_land_together_or_not_at_all(world, api):
    doing = world.column("Doing")
    (card,) = make_cards(world, doing, 1)
    services.archive_card(card, actor=world.alice)
    services.update_column(doing, wip_limit=1, wip_policy=WipPolicy.HARD, actor=world.alice)
    make_cards(world, doing, 1)

    response = api(world.bob).patch(
        f"{API}/cards/{card.pk}/", {"title": "Renamed", "archived": False}, format="json"
    )

    assert response.status_code == 409
    card.refresh_from_db()
    assert card.title == "card 0"


def test_deleting_a_card_closes_the_gap_and_logs_it(world, api):
    ready = world.column("Ready")
    first, second = make_cards(world, ready, 2)
    seq = board_log(world.board)[0]

    response = api(world.bob).delete(f"{API}/cards/{first.pk}/")

    assert response.status_code == 204
    assert not Card.objects.filter(pk=first.pk).exists()
    assert place(second)[2] == 0
    event = Event.objects.get(board=world.board, seq=seq + 1)
    assert (event.type, event.data["card"]["id"]) == ("card.deleted", first.pk)
    assert api(world.bob).get(f"{API}/cards/{first.pk}/").status_code == 404


# --- move ------------------------------------------------------------------------------------


def test_moving_a_card_answers_the_card_and_the_seq_of_its_event(
    world, api, django_capture_on_commit_callbacks
):
    # given
    ready, doing = world.column("Ready"), world.column("Doing")
    (card,) = make_cards(world, ready, 1)
    x, y = make_cards(world, doing, 2)
    seq, events, moves = board_log(world.board)

    # when
    with django_capture_on_commit_callbacks() as published:
        response = api(world.bob).post(
            f"{API}/cards/{card.pk}/move/", {"column": doing.pk, "position": 1}, format="json"
        )

    # then
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"card", "seq", "moved"}
    assert body["seq"] == seq + 1 and body["moved"] is True
    assert set(body["card"]) == CARD_KEYS
    assert (body["card"]["column"], body["card"]["position"]) == (doing.pk, 1)
    assert body["card"]["started_at"] is not None  # first entry into an active column
    assert place(card)[:3] == (doing.pk, card.swimlane_id, 1)
    assert (place(x)[2], place(y)[2]) == (0, 2)
    assert board_log(world.board) == (seq + 1, events + 1, moves + 1)
    event = Event.objects.get(board=world.board, seq=seq + 1)
    assert event.type == "card.moved"
    assert (event.data["from_column"], event.data["to_column"], event.data["position"]) == (
        ready.pk,
        doing.pk,
        1,
    )
    assert published  # the event (and any follow-up work) goes out only after commit


def test_moving_a_card_to_another_swimlane(world, api):
    lane = services.create_swimlane(world.board, name="Expedite", actor=world.alice)
    (card,) = make_cards(world, world.column("Ready"), 1)
    response = api(world.bob).post(
        f"{API}/cards/{card.pk}/move/",
        {"column": world.column("Ready").pk, "swimlane": lane.pk},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["card"]["swimlane"] == lane.pk
    assert place(card)[1:3] == (lane.pk, 0)


def test_a_move_to_where_the_card_already_is_changes_nothing(world, api):
    ready = world.column("Ready")
    (card,) = make_cards(world, ready, 1)
    before = board_log(world.board)

    response = api(world.bob).post(
        f"{API}/cards/{card.pk}/move/", {"column": ready.pk, "position": 0}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["moved"] is False
    assert response.json()["seq"] == before[0]
    assert board_log(world.board) == before


def test_viewer_cannot_move_a_card_and_nothing_changes(world, api):
    (card,) = make_cards(world, world.column("Ready"), 1)
    before_place, before_log = place(card), board_log(world.board)

    response = api(world.victor).post(
        f"{API}/cards/{card.pk}/move/", {"column": world.column("Doing").pk}, format="json"
    )

    assert_error(response, 403, "permission_denied")
    assert place(card) == before_place
    assert board_log(world.board) == before_log


def test_moving_an_archived_card_is_a_conflict(world, api):
    (card,) = make_cards(world, world.column("Ready"), 1)
    services.archive_card(card, actor=world.alice)
    response = api(world.bob).post(
        f"{API}/cards/{card.pk}/move/", {"column": world.column("Doing").pk}, format="json"
    )
    assert_error(response, 409, "conflict")


# --- WIP limits ------------------------------------------------------------------------------


def test_a_move_into_a_full_hard_column_is_refused_and_changes_nothing(
    world, api, django_capture_on_commit_callbacks
):
    # given
    doing = full_hard_column(world, limit=2)
    (card,) = make_cards(world, world.column("Ready"), 1)
    before_place, before_log = place(card), board_log(world.board)
    history_before = CardMove.objects.filter(card=card).count()

    # when
    with django_capture_on_commit_callbacks() as published:
        response = api(world.bob).post(
            f"{API}/cards/{card.pk}/move/", {"column": doing.pk}, format="json"
        )

    # then
    body = assert_error(response, 409, "wip_limit_exceeded")
    assert "Doing" in body["detail"]
    assert body["fields"] == {"column": ["WIP 2/2"]}
    assert place(card) == before_place
    assert board_log(world.board) == before_log  # last_seq, events and history rows
    assert CardMove.objects.filter(card=card).count() == history_before
    assert Card.objects.filter(column=doing, archived=False).count() == 2
    assert published == []


def test_creating_a_card_in_a_full_hard_column_is_refused_and_creates_nothing(
    world, api, django_capture_on_commit_callbacks
):
    doing = full_hard_column(world, limit=1)
    cards_before, log_before = Card.objects.count(), board_log(world.board)

    with django_capture_on_commit_callbacks() as published:
        response = api(world.bob).post(
            f"{API}/boards/{world.board.pk}/cards/",
            {"title": "One more", "column": doing.pk},
            format="json",
        )

    assert_error(response, 409, "wip_limit_exceeded")
    assert Card.objects.count() == cards_before
    assert board_log(world.board) == log_before
    assert published == []


@pytest.mark.parametrize("who", ["alice", "adam"])
def test_an_owner_or_admin_passes_a_hard_limit_with_a_reason_shown_in_the_history(world, api, who):
    # given
    doing = full_hard_column(world, limit=1)
    (card,) = make_cards(world, world.column("Ready"), 1)
    client = api(getattr(world, who))

    # when
    response = client.post(
        f"{API}/cards/{card.pk}/move/",
        {"column": doing.pk, "override_reason": "Production is down"},
        format="json",
    )

    # then
    assert response.status_code == 200, response.content
    assert place(card)[0] == doing.pk
    assert Card.objects.filter(column=doing, archived=False).count() == 2
    event = Event.objects.get(board=world.board, seq=response.json()["seq"])
    assert event.data["override_reason"] == "Production is down"
    history = client.get(f"{API}/cards/{card.pk}/history/").json()["results"]
    last = history[-1]
    assert (last["from_column"], last["to_column"]) == (world.column("Ready").pk, doing.pk)
    assert last["override_reason"] == "Production is down"
    assert last["actor"]["username"] == who


def test_an_owner_creates_a_card_past_a_hard_limit_with_a_reason(world, api):
    doing = full_hard_column(world, limit=1)
    response = api(world.alice).post(
        f"{API}/boards/{world.board.pk}/cards/",
        {"title": "Hotfix", "column": doing.pk, "override_reason": "Outage"},
        format="json",
    )
    assert response.status_code == 201
    history = CardMove.objects.get(card_id=response.json()["id"])
    assert history.override_reason == "Outage"


def test_a_team_member_cannot_override_a_hard_limit_and_nothing_changes(world, api):
    doing = full_hard_column(world, limit=1)
    (card,) = make_cards(world, world.column("Ready"), 1)
    before_place, before_log = place(card), board_log(world.board)

    response = api(world.bob).post(
        f"{API}/cards/{card.pk}/move/",
        {"column": doing.pk, "override_reason": "I really need to"},
        format="json",
    )

    assert_error(response, 403, "permission_denied")
    assert place(card) == before_place
    assert board_log(world.board) == before_log


def test_a_soft_limit_lets_the_move_through_and_flags_it(world, api):
    doing = world.column("Doing")
    services.update_column(doing, wip_limit=1, actor=world.alice)
    make_cards(world, doing, 1)
    (card,) = make_cards(world, world.column("Ready"), 1)

    response = api(world.bob).post(f"{API}/cards/{card.pk}/move/", {"column": doing.pk}, "json")

    assert response.status_code == 200
    event = Event.objects.get(board=world.board, seq=response.json()["seq"])
    assert event.data["wip_exceeded"] is True
    assert Card.objects.filter(column=doing).count() == 2


def test_reordering_inside_a_full_hard_column_is_allowed(world, api):
    doing = full_hard_column(world, limit=2)
    first, second = Card.objects.filter(column=doing).order_by("rank")
    response = api(world.bob).post(
        f"{API}/cards/{second.pk}/move/", {"column": doing.pk, "position": 0}, format="json"
    )
    assert response.status_code == 200
    assert (place(second)[2], place(first)[2]) == (0, 1)


# --- block and unblock -----------------------------------------------------------------------


def test_blocking_a_card_records_why_and_unblocking_ends_the_block(world, api):
    # given
    (card,) = make_cards(world, world.column("Doing"), 1)
    client = api(world.bob)
    seq = board_log(world.board)[0]

    # when
    blocked = client.post(f"{API}/cards/{card.pk}/block/", {"reason": "Waiting for legal"}, "json")

    # then
    assert blocked.status_code == 200, blocked.content
    assert set(blocked.json()) == CARD_KEYS
    assert (blocked.json()["blocked"], blocked.json()["block_reason"]) == (
        True,
        "Waiting for legal",
    )
    block = Block.objects.get(card=card)
    assert (block.reason, block.ended_at, block.blocked_by_id) == (
        "Waiting for legal",
        None,
        world.bob.pk,
    )
    assert Event.objects.get(board=world.board, seq=seq + 1).type == "card.blocked"

    # when
    unblocked = client.post(f"{API}/cards/{card.pk}/unblock/")

    # then
    assert unblocked.status_code == 200
    assert (unblocked.json()["blocked"], unblocked.json()["block_reason"]) == (False, "")
    block.refresh_from_db()
    assert block.ended_at is not None and block.unblocked_by_id == world.bob.pk
    assert Event.objects.get(board=world.board, seq=seq + 2).type == "card.unblocked"


def test_blocking_a_blocked_card_is_a_conflict(world, api):
    (card,) = make_cards(world, world.column("Doing"), 1)
    services.block_card(card, reason="first", actor=world.bob)
    before = board_log(world.board)
    response = api(world.bob).post(f"{API}/cards/{card.pk}/block/", {"reason": "again"}, "json")
    assert_error(response, 409, "conflict")
    assert Block.objects.filter(card=card).count() == 1
    assert board_log(world.board) == before


def test_unblocking_a_card_that_is_not_blocked_is_a_conflict(world, api):
    (card,) = make_cards(world, world.column("Doing"), 1)
    response = api(world.bob).post(f"{API}/cards/{card.pk}/unblock/")
    assert_error(response, 409, "conflict")


@pytest.mark.parametrize("payload", [{}, {"reason": ""}, {"reason": "   "}, {"reason": "x" * 501}])
def test_a_block_needs_a_reason(world, api, payload):
    (card,) = make_cards(world, world.column("Doing"), 1)
    response = api(world.bob).post(f"{API}/cards/{card.pk}/block/", payload, format="json")
    body = assert_error(response, 400, "invalid")
    assert "reason" in body["fields"]
    assert place(card) and not Card.objects.get(pk=card.pk).blocked


# --- comments and history --------------------------------------------------------------------


def test_commenting_on_a_card_and_reading_the_comments_in_order(world, api):
    # given
    (card,) = make_cards(world, world.column("Ready"), 1)
    seq = board_log(world.board)[0]

    # when
    first = api(world.bob).post(
        f"{API}/cards/{card.pk}/comments/", {"body": "Called *them*"}, format="json"
    )
    api(world.alice).post(f"{API}/cards/{card.pk}/comments/", {"body": "Thanks"}, "json")
    listed = api(world.victor).get(f"{API}/cards/{card.pk}/comments/")

    # then
    assert first.status_code == 201, first.content
    body = first.json()
    assert set(body) == {"id", "card", "author", "body", "body_html", "created_at"}
    assert body["card"] == card.pk and body["body"] == "Called *them*"
    assert body["body_html"] == "<p>Called <em>them</em></p>"
    assert body["author"]["username"] == "bob"
    assert Comment.objects.filter(card=card).count() == 2
    assert Event.objects.get(board=world.board, seq=seq + 1).type == "card.commented"
    assert listed.status_code == 200
    assert listed.json()["count"] == 2
    assert [c["body"] for c in listed.json()["results"]] == ["Called *them*", "Thanks"]


@pytest.mark.parametrize("payload", [{}, {"body": ""}, {"body": "  \n "}, {"body": "x" * 10_001}])
def test_an_empty_or_huge_comment_is_refused(world, api, payload):
    (card,) = make_cards(world, world.column("Ready"), 1)
    response = api(world.bob).post(f"{API}/cards/{card.pk}/comments/", payload, format="json")
    assert_error(response, 400, "invalid")
    assert not Comment.objects.exists()


def test_history_lists_the_creation_and_every_move_in_order(world, api):
    # given
    backlog, doing, done = world.column("Backlog"), world.column("Doing"), world.column("Done")
    (card,) = make_cards(world, backlog, 1)
    services.move_card(card, to_column=doing, actor=world.bob)
    services.move_card(card, to_column=done, actor=world.adam)

    # when
    response = api(world.mia).get(f"{API}/cards/{card.pk}/history/")

    # then
    assert response.status_code == 200
    results = response.json()["results"]
    assert [(m["from_column"], m["to_column"]) for m in results] == [
        (None, backlog.pk),
        (backlog.pk, doing.pk),
        (doing.pk, done.pk),
    ]
    assert [m["actor"]["username"] for m in results] == ["alice", "bob", "adam"]
    assert [m["to_stage"] for m in results] == ["backlog", "active", "done"]
    assert results[1]["from_column_name"] == "Backlog"
    assert all(m["at"] for m in results)
    assert results[0]["at"] <= results[1]["at"] <= results[2]["at"]


# --- search ----------------------------------------------------------------------------------


@pytest.fixture
def searchable(world):
    """Cards of Acme and one of Globex with the same words in them."""
    ready, doing = world.column("Ready"), world.column("Doing")
    vip = services.create_label(world.board, name="vip", actor=world.alice)
    invoice = services.create_card(
        world.board,
        title="Invoice for Initech",
        column=ready,
        assignees=[world.bob],
        labels=[vip],
        actor=world.alice,
    )
    contract = services.create_card(
        world.board,
        title="Contract renewal",
        description="Needs the signed quote",
        column=doing,
        actor=world.alice,
    )
    services.add_comment(contract, body="The customer asked about the refund", actor=world.bob)
    services.block_card(contract, reason="Legal review", actor=world.bob)
    roadmap_board = services.create_board(team=world.product, name="Roadmap", actor=world.alice)
    roadmap = services.create_card(
        roadmap_board,
        title="Invoice export",
        column=roadmap_board.columns.get(name="Ready"),
        actor=world.alice,
    )
    foreign = services.create_card(
        world.globex_board,
        title="Invoice for Globex refund",
        column=world.column("Ready", world.globex_board),
        actor=world.gina,
    )
    return {
        "invoice": invoice.pk,
        "contract": contract.pk,
        "roadmap": roadmap.pk,
        "foreign": foreign.pk,
        "vip": vip.pk,
        "roadmap_board": roadmap_board.pk,
    }


def search(client, **params) -> list[int]:
    response = client.get(f"{API}/cards/", params)
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == len(body["results"])
    return [c["id"] for c in body["results"]]


def test_card_search_without_filters_lists_every_card_of_my_organisations(world, api, searchable):
    s = searchable
    ids = search(api(world.victor))
    assert sorted(ids) == sorted([s["invoice"], s["contract"], s["roadmap"]])
    assert s["foreign"] not in ids


def test_card_search_filters(world, api, searchable):
    # given
    s, client = searchable, api(world.alice)
    filters = {
        "board": {"board": world.board.pk},
        "other board": {"board": s["roadmap_board"]},
        "column": {"column": world.column("Doing").pk},
        "assignee": {"assignee": world.bob.pk},
        "label": {"label": s["vip"]},
        "blocked": {"blocked": "true"},
        "not blocked": {"blocked": "false"},
        "q in a title": {"q": "invoice"},
        "q in a comment": {"q": "refund"},
        "q in a description": {"q": "quote"},
        "q and board": {"q": "invoice", "board": world.board.pk},
        "q matching nothing": {"q": "nothing-like-this"},
        "another organisation's board": {"board": world.globex_board.pk},
    }

    # when
    got = {name: sorted(search(client, **params)) for name, params in filters.items()}

    # then
    expected = {
        "board": ["invoice", "contract"],
        "other board": ["roadmap"],
        "column": ["contract"],
        "assignee": ["invoice"],
        "label": ["invoice"],
        "blocked": ["contract"],
        "not blocked": ["invoice", "roadmap"],
        "q in a title": ["invoice", "roadmap"],
        "q in a comment": ["contract"],
        "q in a description": ["contract"],
        "q and board": ["invoice"],
        "q matching nothing": [],
        "another organisation's board": [],
    }
    assert got == {name: sorted(s[key] for key in keys) for name, keys in expected.items()}


def test_card_search_never_returns_another_organisations_cards(world, api, searchable):
    assert searchable["foreign"] not in search(api(world.alice), q="Globex")
    assert search(api(world.gina), q="invoice") == [searchable["foreign"]]
    assert search(api(world.gina), board=world.board.pk) == []


@pytest.mark.parametrize(
    "params",
    [{"board": "abc"}, {"column": "x"}, {"assignee": "1.5"}, {"label": "[]"}, {"blocked": "maybe"}],
)
def test_card_search_refuses_filters_of_the_wrong_type(world, api, params):
    response = api(world.alice).get(f"{API}/cards/", params)
    body = assert_error(response, 400, "invalid")
    assert set(body["fields"]) == set(params)


def test_card_search_needs_credentials(world, api):
    assert_error(api(None).get(f"{API}/cards/"), 401, "not_authenticated")


def test_a_move_of_a_card_of_another_organisation_is_not_found_whatever_the_body(world, api):
    foreign = services.create_card(
        world.globex_board,
        title="theirs",
        column=world.column("Ready", world.globex_board),
        actor=world.gina,
    )
    ours = services.create_card(
        world.board, title="ours", column=world.column("Ready"), actor=world.alice
    )
    client = api(world.alice)
    url = "/api/v1/cards/{}/move/"

    # a bad body on our own card is a 400 ...
    assert client.post(url.format(ours.pk), {}, format="json").status_code == 400
    # ... but on theirs, as for a good body, the card does not exist for us
    for body in ({}, {"column": "x"}, {"column": world.column("Doing").pk}):
        response = client.post(url.format(foreign.pk), body, format="json")
        assert response.status_code == 404, (body, response.json())
    response = client.generic(
        "POST", url.format(foreign.pk), "{not json", content_type="application/json"
    )
    assert response.status_code == 404
    foreign.refresh_from_db()
    assert foreign.column == world.column("Ready", world.globex_board)
