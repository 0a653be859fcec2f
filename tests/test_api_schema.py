"""The OpenAPI schema tells the truth: it builds without warnings, and every list that answers a
page (`{"count", "next", "previous", "results"}`) is documented as one, with `page` and
`page_size`; the lists are found by calling every GET of the schema, not from a list here."""

import re
from datetime import date

import pytest
from django.core.management import call_command

from accounts.services import create_api_token
from boards import services
from boards.hooks.services import create_webhook
from boards.kaizen.services import create_improvement
from boards.services import trello

pytestmark = pytest.mark.django_db

PAGE_KEYS = {"count", "next", "previous", "results"}


def test_the_schema_builds_and_validates_without_warnings(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yml"))


@pytest.fixture
def schema(client) -> dict:
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.json()


def resolve(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def documented_as_page(schema: dict, operation: dict) -> bool:
    body = operation["responses"]["200"]["content"].get("application/json", {}).get("schema")
    if body is None:
        return False
    body = resolve(schema, body)
    # the four keys always; keyset paging's optional has_more and next_cursor besides
    return set(body.get("properties", {})) >= PAGE_KEYS and set(body["required"]) == PAGE_KEYS


def test_every_list_that_answers_a_page_is_documented_as_one(world, api, schema):
    # given: one of everything a path can name
    card = services.create_card(
        world.board, title="A", column=world.column("Ready"), customer="Initech", actor=world.alice
    )
    improvement = create_improvement(
        world.board,
        title="Smaller batches",
        target_metric="lead_time",
        review_on=date(2026, 12, 31),
        actor=world.alice,
    )
    services.add_comment(card, body="Hello", actor=world.alice)
    token, _ = create_api_token(user=world.alice, name="listed")
    job = trello.start_trello_import(
        team=world.sales,
        data={"lists": [{"id": "l", "name": "To do"}], "cards": []},
        actor=world.bob,
    )
    hook = create_webhook(world.acme, url="https://example.com/hook", actor=world.alice)
    ids = {
        "webhook_id": hook.pk,
        "job_id": job.pk,
        "user_id": world.bob.pk,
        "token_id": token.pk,
        "board_id": world.board.pk,
        "card_id": card.pk,
        "column_id": card.column_id,
        "swimlane_id": card.swimlane_id,
        "slug": world.acme.slug,
        "improvement_id": improvement.pk,
        "name": "Initech",
    }
    client = api(world.alice)

    # when: every GET of the schema is called
    pages, documented = set(), set()
    for template, operations in schema["paths"].items():
        if "get" not in operations or template == "/api/schema/":
            continue
        url = re.sub(r"\{(\w+)\}", lambda m: str(ids[m.group(1)]), template)
        response = client.get(url)
        assert response.status_code == 200, (url, response.content[:200])
        if response["Content-Type"] == "application/json":
            body = response.json()
            if isinstance(body, dict) and set(body) == PAGE_KEYS:
                pages.add(template)
        if documented_as_page(schema, operations["get"]):
            documented.add(template)
            names = {p["name"] for p in operations["get"].get("parameters", [])}
            assert {"page", "page_size"} <= names, template

    # then: the same set, and it is every list of the API
    assert pages == documented
    assert len(pages) >= 12, sorted(pages)
