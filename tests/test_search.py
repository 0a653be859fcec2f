"""Card search (boards.selectors.search_cards, GET /api/v1/cards/?q=): across every board of the
user's organisations, in titles, descriptions and comments, best matches first, never another
organisation's cards; Postgres full-text search on GIN indexes, a plain fallback elsewhere."""

import pytest
from django.db import connection

from boards import selectors, services
from boards.models import Card

pytestmark = pytest.mark.django_db

API = "/api/v1"


@pytest.fixture
def cards(world):
    """Acme cards on two boards, and a Globex card that matches every search below."""
    alice, gina = world.alice, world.gina
    ready = world.column("Ready")
    roadmap = services.create_board(team=world.product, name="Roadmap", actor=alice)
    made = {
        "title": services.create_card(
            world.board, title="Invoices fail to export", column=ready, actor=alice
        ),
        "description": services.create_card(
            world.board,
            title="Quarter close",
            description="The invoices of March are missing from the ledger.",
            column=ready,
            actor=alice,
        ),
        "comment": services.create_card(
            roadmap,
            title="Customer call",
            column=roadmap.columns.get(name="Ready"),
            actor=alice,
        ),
        "unrelated": services.create_card(
            world.board, title="Office party", column=ready, actor=alice
        ),
        "globex": services.create_card(
            world.globex_board,
            title="Invoices at Globex",
            description="invoices invoices",
            column=world.column("Ready", world.globex_board),
            actor=gina,
        ),
    }
    services.add_comment(made["comment"], body="They asked about invoicing terms.", actor=alice)
    services.add_comment(made["globex"], body="Invoices again", actor=gina)
    return made


def search(api, user, query: str) -> list[dict]:
    response = api(user).get(f"{API}/cards/", {"q": query})
    assert response.status_code == 200, response.content
    return response.json()["results"]


def ids(results) -> list[int]:
    return [r["id"] for r in results]


def test_search_finds_cards_by_title_description_and_comment_text(world, api, cards):
    found = ids(search(api, world.bob, "invoice"))

    # "invoices", "invoicing" and "invoice" share the stem; the Roadmap card matches only by
    # its comment, on a board of another team of the organisation
    assert set(found) == {cards["title"].pk, cards["description"].pk, cards["comment"].pk}


def test_search_finds_a_card_by_a_word_only_its_comments_contain(world, api, cards):
    assert ids(search(api, world.mia, "terms")) == [cards["comment"].pk]


def test_search_ranks_title_matches_before_description_before_comments(world, api, cards):
    found = ids(search(api, world.alice, "invoices"))

    assert found == [cards["title"].pk, cards["description"].pk, cards["comment"].pk]


def test_search_never_returns_another_organisations_cards(world, api, cards):
    assert cards["globex"].pk not in ids(search(api, world.alice, "invoices globex"))
    assert cards["globex"].pk not in ids(search(api, world.alice, "Globex"))
    # and Globex sees only its own
    assert ids(search(api, world.gina, "invoices")) == [cards["globex"].pk]


def test_search_understands_web_search_syntax(world, api, cards):
    assert ids(search(api, world.alice, '"invoices fail"')) == [cards["title"].pk]
    assert cards["title"].pk not in ids(search(api, world.alice, "invoices -export"))
    assert set(ids(search(api, world.alice, "party or ledger"))) == {
        cards["unrelated"].pk,
        cards["description"].pk,
    }


def test_search_matches_part_of_a_title_as_typed(world, api, cards):
    assert ids(search(api, world.alice, "Offi")) == [cards["unrelated"].pk]


def test_search_can_be_narrowed_to_one_organisation_and_combined_with_filters(world, api, cards):
    assert ids(search(api, world.alice, "invoices")) == ids(
        api(world.alice).get(f"{API}/cards/", {"q": "invoices", "org": "acme"}).json()["results"]
    )
    response = api(world.alice).get(
        f"{API}/cards/", {"q": "invoices", "board": cards["comment"].board_id}
    )
    assert ids(response.json()["results"]) == [cards["comment"].pk]
    # an organisation the user is not in finds nothing, rather than an error that confirms it
    response = api(world.alice).get(f"{API}/cards/", {"q": "invoices", "org": "globex"})
    assert response.json()["results"] == []


def test_archived_cards_are_not_found(world, api, cards):
    services.archive_card(cards["title"], actor=world.alice)

    assert cards["title"].pk not in ids(search(api, world.alice, "invoices"))


def test_the_search_expressions_are_the_ones_the_gin_indexes_hold(world, cards):
    # given: the planner told to avoid sequential scans, so that it uses an index it can
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
    found = selectors.search_cards(world.alice, q="invoices").values_list("id", flat=True)

    # when
    sql, params = found.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())

    # then: both match conditions read their GIN index
    assert "card_search_gin" in plan, plan
    assert "comment_search_gin" in plan, plan


def test_the_fallback_search_finds_every_word_in_title_description_or_comments(world, cards):
    # The SQLite fallback, called directly (it is plain Django lookups, valid on Postgres too).
    every = Card.objects.filter(board__organization=world.acme)

    def found(q: str) -> list[int]:
        return list(
            selectors.text_search_fallback(every, q)
            .order_by("-search_rank", "id")
            .values_list("id", flat=True)
        )

    assert found("invoices") == [cards["title"].pk, cards["description"].pk]
    assert found("INVOIC") == [cards["title"].pk, cards["description"].pk, cards["comment"].pk]
    assert found("terms") == [cards["comment"].pk]
    assert found("invoices ledger") == [cards["description"].pk]  # every word must match
    assert found("nothing-like-this") == []


def test_the_fallback_is_what_search_cards_uses_off_postgres(world, cards, monkeypatch):
    monkeypatch.setattr(connection, "vendor", "sqlite")

    found = selectors.search_cards(world.alice, q="terms").values_list("id", flat=True)

    assert list(found) == [cards["comment"].pk]
