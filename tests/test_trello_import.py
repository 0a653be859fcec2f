"""Importing a Trello board export (boards.services.trello,
POST /api/v1/orgs/{slug}/import/trello/).

tests/fixtures/trello_board.json is a Trello JSON export of a product board, as Trello writes
it (ids that start with their creation time, positions that are not in id order, actions newest
first, many fields the import ignores): six lists, one closed; sixteen cards, three of them
closed on open lists and two on the closed list; six labels, one without a name and two both
named "Bug"; six comments, one of them on a card of the closed list; a checklist.
"""

import copy
import io
import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from boards.api.org_views import ImportJSONParser
from boards.models import Board, Card, Comment, Label, Stage
from boards.services import trello
from kanban.exceptions import PayloadTooLarge

pytestmark = pytest.mark.django_db

API = "/api/v1"
FIXTURE = Path(__file__).parent / "fixtures" / "trello_board.json"

EXPECTED_COLUMNS = [
    ("Backlog", Stage.BACKLOG),
    ("Ready", Stage.WAIT),
    ("Doing", Stage.ACTIVE),
    ("Code review", Stage.WAIT),
    ("Done ✅", Stage.DONE),
]
# Live cards per column, in Trello's `pos` order.
EXPECTED_CARDS = {
    "Backlog": ["Export to PDF", "Dark mode"],
    "Ready": ["Password reset emails", "Invoice reminders"],
    "Doing": ["Slow search", "Fix login timeout", "Onboarding flow"],
    "Code review": ["Refactor billing"],
    "Done ✅": ["Landing copy", "Signup page", "Analytics events"],
}
EXPECTED_LABELS = {
    "Feature": "#61bd4f",
    "Bug": "#eb5a46",
    "Yellow": "#f2d600",
    "Customer": "#0079bf",
    "Bug (purple)": "#c377e0",
    "Infra": "#00c2e0",
}


@pytest.fixture
def export() -> dict:
    return json.loads(FIXTURE.read_text())


def import_url(slug: str = "acme") -> str:
    return f"{API}/orgs/{slug}/import/trello/"


def post_import(client, body: dict, slug: str = "acme"):
    return client.post(import_url(slug), json.dumps(body), content_type="application/json")


@pytest.fixture
def imported(world, api, export):
    response = post_import(api(world.bob), {"team": world.sales.pk, "board": export})
    assert response.status_code == 201, response.content
    return Board.objects.get(pk=response.json()["board"]), response.json()


def test_the_import_answers_the_new_board_and_what_landed(world, imported):
    board, body = imported

    assert body == {
        "board": board.pk,
        "name": "Product roadmap",
        "counts": {
            "columns": 5,
            "cards": 14,
            "labels": 6,
            "comments": 5,
            "archived": 3,
            "skipped": 2,
        },
    }
    assert (board.team_id, board.organization_id) == (world.sales.pk, world.acme.pk)


def test_open_lists_become_columns_in_pos_order_with_guessed_stages(imported):
    board, _ = imported

    columns = list(board.columns.order_by("position").values_list("name", "stage"))

    assert columns == EXPECTED_COLUMNS


def test_cards_land_in_their_lists_column_in_pos_order(imported):
    board, _ = imported

    live = {
        name: list(
            Card.objects.filter(column__board=board, column__name=name, archived=False)
            .order_by("position")
            .values_list("title", flat=True)
        )
        for name, _ in EXPECTED_COLUMNS
    }
    positions = list(
        Card.objects.filter(board=board, archived=False)
        .order_by("column__position", "position")
        .values_list("column__name", "position")
    )

    assert live == EXPECTED_CARDS
    for name, titles in EXPECTED_CARDS.items():  # dense, 0-based
        assert [p for column, p in positions if column == name] == list(range(len(titles)))


def test_closed_cards_are_archived_and_cards_of_closed_lists_left_out(imported):
    board, _ = imported

    archived = set(Card.objects.filter(board=board, archived=True).values_list("title", "position"))

    assert archived == {
        ("Archived idea", None),
        ("Closed in review", None),
        ("Old release notes", None),
    }
    assert not Card.objects.filter(title__in=["Sprint retro notes", "Sprint demo"]).exists()


def test_labels_keep_their_colours_and_get_unique_names(imported):
    board, _ = imported

    labels = dict(Label.objects.filter(board=board).values_list("name", "color"))
    fix = Card.objects.get(board=board, title="Fix login timeout")

    assert labels == EXPECTED_LABELS
    assert set(fix.labels.values_list("name", flat=True)) == {"Bug", "Bug (purple)"}


def test_every_list_card_label_and_comment_of_the_export_lands(imported, export):
    board, _ = imported
    open_lists = {x["id"]: x["name"] for x in export["lists"] if not x["closed"]}
    titles = {c["name"]: c["closed"] for c in export["cards"] if c["idList"] in open_lists}
    cards = dict(Card.objects.filter(board=board).values_list("title", "archived"))
    bodies = list(Comment.objects.filter(card__board=board).values_list("card__title", "body"))

    assert set(board.columns.values_list("name", flat=True)) == set(open_lists.values())
    assert cards == titles
    assert Label.objects.filter(board=board).count() == len(export["labels"])
    comments = [a for a in export["actions"] if a["type"] == "commentCard"]
    for action in comments:
        title = action["data"]["card"]["name"]
        if title not in titles:
            continue  # its card is on the closed list
        assert any(t == title and action["data"]["text"] in b for t, b in bodies), title
    assert len(bodies) == len(comments) - 1


def test_card_fields_and_times_come_from_trello(imported, export):
    board, _ = imported
    trello_card = next(c for c in export["cards"] if c["name"] == "Fix login timeout")

    card = Card.objects.get(board=board, title="Fix login timeout")
    invoice = Card.objects.get(board=board, title="Invoice reminders")
    comments = list(card.comments.order_by("created_at").values_list("body", "created_at"))

    created = datetime.fromtimestamp(int(trello_card["id"][:8], 16), tz=UTC)
    assert card.created_at == created
    assert card.committed_at == created and card.started_at == created  # an active list
    assert card.due_date == date(2024, 4, 12)
    assert card.description.startswith("Sessions expire after 5 minutes instead of 30.")
    assert "- [x] Reproduce on Safari\n- [ ] Write a failing test" in card.description
    assert card.description.endswith("On Trello: Jane Doe, Raj Patel")
    assert invoice.description.endswith("On Trello: Jane Doe")
    assert [body.split(":\n\n", 1)[0] for body, _ in comments] == [
        "**Jane Doe** on Trello",
        "**Raj Patel** on Trello",
    ]
    assert comments[1][0].endswith("The cookie max-age is 300, not 1800. Fix on the way.")
    said = next(a for a in export["actions"] if a["data"].get("text", "").startswith("I can"))
    assert comments[0][1] == datetime.fromisoformat(said["date"])
    done = Card.objects.get(board=board, title="Signup page")
    assert done.finished_at == done.created_at  # no history before the import


def test_the_import_writes_through_the_services_with_history_and_events(imported):
    board, _ = imported

    assert board.moves.count() == 14  # one creation per card
    types = list(board.events.order_by("seq").values_list("type", flat=True))
    assert types[0] == "board.created"
    assert types.count("label.created") == 6
    assert types.count("card.created") == 14
    assert types.count("card.commented") == 5
    assert types.count("card.archived") == 3
    assert list(board.events.order_by("seq").values_list("seq", flat=True)) == list(
        range(1, len(types) + 1)
    )


def test_the_board_can_be_named_on_import(world, api, export):
    response = post_import(
        api(world.alice), {"team": world.product.pk, "name": "Roadmap 2024", "board": export}
    )

    assert response.status_code == 201
    assert Board.objects.get(pk=response.json()["board"]).name == "Roadmap 2024"


# --- bad files -------------------------------------------------------------------------------


def _bad(export: dict, change) -> dict:
    broken = copy.deepcopy(export)
    change(broken)
    return broken


def test_a_malformed_export_is_refused_naming_the_problem_and_nothing_is_created(
    world, api, export
):
    cases = {
        "board": [],
        "board.lists": {"name": "x", "cards": []},
        "board.lists[1].name": _bad(export, lambda b: b["lists"][1].pop("name")),
        "board.cards[2].idList": _bad(export, lambda b: b["cards"][2].update(idList="nope")),
        "board.cards[0].pos": _bad(export, lambda b: b["cards"][0].update(pos="first")),
        "board.cards[3].due": _bad(export, lambda b: b["cards"][3].update(due="next week")),
        "board.labels[0].id": _bad(export, lambda b: b["labels"][0].update(id=7)),
        "board.lists ": _bad(export, lambda b: [x.update(closed=True) for x in b["lists"]]),
    }
    client = api(world.alice)
    boards_before, cards_before = Board.objects.count(), Card.objects.count()

    for field, board in cases.items():
        response = post_import(client, {"team": world.sales.pk, "board": board})
        assert response.status_code == 400, (field, response.content)
        body = response.json()
        assert body["code"] == "invalid"
        assert field.strip() in body["fields"], (field, body)
        assert body["detail"]

    assert (Board.objects.count(), Card.objects.count()) == (boards_before, cards_before)


def test_the_board_must_be_a_json_object(world, api):
    response = post_import(api(world.alice), {"team": world.sales.pk, "board": "a file"})

    assert response.status_code == 400
    assert "board" in response.json()["fields"]


@pytest.mark.parametrize("bad", ["\u0000", "\ud800", "\udfff"])
@pytest.mark.parametrize(
    ("where", "field"),
    [
        (lambda b, bad: b["cards"][2].update(name=f"Card {bad}"), "board.cards[2].name"),
        (lambda b, bad: b["cards"][0].update(desc=f"x{bad}y"), "board.cards[0].desc"),
        (lambda b, bad: b["lists"][1].update(name=bad), "board.lists[1].name"),
        (lambda b, bad: b["labels"][0].update(name=bad), "board.labels[0].name"),
        (lambda b, bad: b["actions"][0]["data"].update(text=bad), "board.actions[0].data.text"),
        (lambda b, bad: b["cards"][1].update({f"ignored{bad}": 1}), "board.cards[1]"),
    ],
)
def test_nul_or_a_lone_surrogate_anywhere_in_an_export_is_a_400_naming_it(
    world, api, export, bad, where, field
):
    # given: an export with one bad string, escaped as JSON writes it
    where(export, bad)
    body = json.dumps({"team": world.sales.pk, "board": export})
    assert "\\u" in body

    # when
    response = api(world.alice).post(import_url(), body, content_type="application/json")

    # then
    assert response.status_code == 400, response.content[:300]
    assert response.json()["code"] == "invalid"
    assert field in response.json()["fields"]
    assert not Board.objects.filter(name="Product roadmap").exists()


def test_an_export_nested_too_deep_is_a_400(world, api, export):
    export["cards"][0]["badges"] = json.loads("[" * 40 + "]" * 40)

    response = post_import(api(world.alice), {"team": world.sales.pk, "board": export})

    assert response.status_code == 400
    assert response.json()["code"] == "malformed_request"


def test_a_failure_half_way_leaves_nothing_behind(world, api, export, monkeypatch):
    from boards import services

    calls = []

    def failing_comment(*args, **kwargs):
        calls.append(1)
        raise RuntimeError("database went away")

    monkeypatch.setattr(services, "add_comment", failing_comment)
    boards_before = Board.objects.count()

    with pytest.raises(RuntimeError):
        trello.import_trello_board(team=world.sales, data=export, actor=world.alice)

    assert calls and Board.objects.count() == boards_before
    assert not Card.objects.filter(title="Fix login timeout").exists()


# --- who may import --------------------------------------------------------------------------


def test_viewers_and_members_off_the_team_may_not_import(world, api, export):
    for user in (world.victor, world.mia):
        response = post_import(api(user), {"team": world.sales.pk, "board": export})
        assert response.status_code == 403, user
        assert response.json()["code"] == "permission_denied"
    assert not Board.objects.filter(name="Product roadmap").exists()


def test_a_team_of_another_organisation_is_refused(world, api, export):
    globex_team = world.globex_board.team

    response = post_import(api(world.alice), {"team": globex_team.pk, "board": export})

    assert response.status_code == 400
    assert "team" in response.json()["fields"]
    assert not Board.objects.filter(name="Product roadmap").exists()


def test_another_organisation_is_not_found(world, api, export):
    response = post_import(api(world.gina), {"team": world.sales.pk, "board": export})
    assert response.status_code == 404
    response = post_import(api(world.alice), {"team": world.sales.pk, "board": export}, "globex")
    assert response.status_code == 404
    assert api(None).post(import_url(), {}, format="json").status_code == 401


# --- big files -------------------------------------------------------------------------------


def padded(export: dict, size: int) -> str:
    """The export grown to about `size` bytes with the kind of actions that make real exports
    big (card updates), which the import ignores."""
    body = copy.deepcopy(export)
    filler = {
        "id": "65f1c0a2b3c4d5e6f7a8ffff",
        "type": "updateCard",
        "date": "2024-03-20T10:00:00.000Z",
        "data": {"card": {"id": "x", "name": "y" * 200}, "old": {"desc": "z" * 600}},
    }
    one = len(json.dumps(filler)) + 2
    body["actions"] = body["actions"] + [filler] * (size // one)
    return json.dumps({"team": None, "board": body})


def test_an_export_bigger_than_the_general_body_limit_is_imported(world, api, export, settings):
    # given: 5 MB, over the 2 MiB that every other endpoint accepts
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE < 5_000_000 < settings.IMPORT_MAX_BYTES
    body = padded(export, 5_000_000).replace('"team": null', f'"team": {world.sales.pk}')

    # when
    response = api(world.alice).post(import_url(), body, content_type="application/json")

    # then
    assert len(body) > 5_000_000
    assert response.status_code == 201, response.content[:300]
    assert response.json()["counts"]["cards"] == 14


def test_an_export_over_the_import_limit_answers_413(world, api, export, settings):
    settings.IMPORT_MAX_BYTES = 1_000_000
    body = padded(export, 1_200_000)

    response = api(world.alice).post(import_url(), body, content_type="application/json")

    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert "1000000 bytes" in response.json()["detail"]
    assert not Board.objects.filter(name="Product roadmap").exists()


def test_the_larger_limit_holds_for_the_import_path_only(world, api, settings):
    # given: a 3 MB body, under the import limit, sent to another endpoint
    settings.IMPORT_MAX_BYTES = 20 * 1024 * 1024
    body = json.dumps(
        {"title": "x", "column": world.column("Ready").pk, "description": "x" * 3_000_000}
    )

    response = api(world.alice).post(
        f"{API}/boards/{world.board.pk}/cards/", body, content_type="application/json"
    )

    assert response.status_code == 413


def test_the_import_parser_enforces_its_limit_whatever_the_headers_say(settings):
    settings.IMPORT_MAX_BYTES = 1_000
    parser = ImportJSONParser()

    assert parser.parse(io.BytesIO(b'{"a": 1}'), parser_context={}) == {"a": 1}
    with pytest.raises(PayloadTooLarge):
        parser.parse(io.BytesIO(b'{"a": "' + b"x" * 2_000 + b'"}'), parser_context={})


# --- stage guessing --------------------------------------------------------------------------


def test_stages_are_guessed_from_list_names():
    assert trello.guess_stages(
        ["Ideas", "Backlog", "To Do", "In Progress", "QA", "Shipped 🚀"]
    ) == ["backlog", "backlog", "backlog", "active", "wait", "done"]
    # a backlog-like name after the commitment point waits; unknown names wait
    assert trello.guess_stages(["Next", "To do", "WIP", "Testing", "Complete"]) == [
        "wait",
        "wait",
        "active",
        "wait",
        "done",
    ]
    assert trello.guess_stages(["Doing (code review)"]) == ["wait"]
