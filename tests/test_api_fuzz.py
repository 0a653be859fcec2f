"""Every operation of the API's own schema, fuzzed in-process by schemathesis (through Django's
WSGI handler, inside the test's transaction), as the owner of an organisation whose board has
cards: no answer is a 5xx, every error is JSON with `code` and `detail`, and every answer
conforms to its documented status codes, content type and body schema.

Bounded and reproducible: EXAMPLES_PER_OPERATION generated cases per operation (plus
schemathesis' own boundary cases), derandomized. Ids are made real where a random one could
only miss (a random board id is a 404 that other tests cover): in the path, and in body fields
that name a column, swimlane, team, person or label when the case put an integer there, so
that cases reach the services (create, move, import) and not only the lookups."""

import json
import os
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.services import create_api_token
from boards import services
from boards.kaizen.services import create_improvement
from tests.factories import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.fuzz]

# FUZZ_EXAMPLES=200 for a deeper run by hand (longer, as reproducible).
EXAMPLES_PER_OPERATION = int(os.environ.get("FUZZ_EXAMPLES", "50"))
TRELLO_EXPORT = Path(__file__).parent / "fixtures" / "trello_board.json"

app = WSGIHandler()
# Loaded when the module is collected (building the schema reads no data).
schema = schemathesis.openapi.from_wsgi("/api/schema/", app)


@pytest.fixture
def in_process(db):
    """Requests inside the test's transaction: Django closes the connection around each
    request, which would end it (Django's test client disconnects the same handler)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def owner(world, in_process) -> dict[str, Any]:
    """alice's token (an owner of Acme) and the real ids of what she can reach."""
    doing, ready = world.column("Doing"), world.column("Ready")
    card = services.create_card(
        world.board, title="Fuzzed", column=doing, customer="Initech", actor=world.alice
    )
    improvement = create_improvement(
        world.board,
        title="Fuzzed",
        target_metric="throughput",
        review_on=date(2026, 12, 31),
        actor=world.alice,
    )
    services.create_card(world.board, title="Other", column=ready, actor=world.bob)
    services.add_comment(card, body="A comment", actor=world.alice)
    services.block_card(card, reason="Waiting", actor=world.alice)
    label = services.create_label(world.board, name="Bug", actor=world.alice)
    outsider = UserFactory(username="outsider")
    _, key = create_api_token(user=world.alice, name="fuzz")
    return {
        "headers": {"Authorization": f"Token {key}"},
        "path": {
            "board_id": world.board.pk,
            "card_id": card.pk,
            "column_id": card.column_id,
            "swimlane_id": card.swimlane_id,
            "slug": world.acme.slug,
            "improvement_id": improvement.pk,
            "name": "Initech",
        },
        "body": {
            "column": list(world.board.columns.values_list("pk", flat=True)),
            "swimlane": [card.swimlane_id],
            "team": [world.sales.pk, world.product.pk],
            "assignees": [world.alice.pk, world.bob.pk],
            "members": [world.alice.pk, world.bob.pk],
            "labels": [label.pk],
        },
        "username": [outsider.username, world.bob.username],
        "export": json.loads(TRELLO_EXPORT.read_text()),
    }


def _real(value: Any, choices: list) -> Any:
    """An integer becomes one of the real ids (chosen by it, so still varied); anything else,
    the wrong type the case meant to send, stays."""
    if isinstance(value, int) and not isinstance(value, bool):
        return choices[value % len(choices)]
    if isinstance(value, list):
        return [_real(item, choices) for item in value]
    return value


def with_real_ids(body: Any, owner: dict[str, Any]) -> Any:
    if not isinstance(body, dict):
        return body
    body = dict(body)
    for name, choices in owner["body"].items():
        if name in body:
            body[name] = _real(body[name], choices)
    if isinstance(body.get("username"), str):
        body["username"] = owner["username"][len(body["username"]) % 2]
    if isinstance(body.get("board"), dict):  # the Trello export, with whatever the case added
        body["board"] = {**owner["export"], **body["board"]}
    return body


def errors_are_json_with_code_and_detail(ctx, response, case):
    if response.status_code < 400:
        return None
    content_type = response.headers.get("content-type", [""])[0]
    assert content_type == "application/json", f"{response.status_code} as {content_type!r}"
    body = response.json()
    assert isinstance(body, dict), body
    assert isinstance(body.get("code"), str) and body["code"], body
    assert isinstance(body.get("detail"), str) and body["detail"], body
    return None


def documented_status(ctx, response, case):
    """status_code_conformance, but a 429 passes: rate limits may throttle a run this fast."""
    if response.status_code == 429:
        return None
    return status_code_conformance(ctx, response, case)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,
    database=None,
    # The database fixtures are function-scoped on purpose (each operation starts from the same
    # world), and a case's request is slower than Hypothesis expects of a test function.
    suppress_health_check=list(HealthCheck),
)
def test_no_operation_answers_a_server_error_or_an_undocumented_answer(case, owner):
    # given: real ids where the case's own could only miss
    if case.path_parameters:
        case.path_parameters = {
            name: owner["path"].get(name, value) for name, value in case.path_parameters.items()
        }
    case.body = with_real_ids(case.body, owner)

    # when / then
    case.call_and_validate(
        headers=owner["headers"],
        checks=[
            not_a_server_error,
            errors_are_json_with_code_and_detail,
            documented_status,
            content_type_conformance,
            response_schema_conformance,
        ],
    )
