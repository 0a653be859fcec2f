"""The customer view (boards/customers/): every live card for a customer across the
organisation's boards, with counts, lead times of finished cards and blocked/ageing flags; a
fixed number of queries; another organisation's cards with the same customer name never
appear, and another organisation's slug is 404."""

from datetime import timedelta
from urllib.parse import quote

import pytest
from django.utils import timezone

from boards import services
from boards.flow import alerts
from boards.models import Alert, AlertKind

pytestmark = pytest.mark.django_db


@pytest.fixture
def work(world):
    """Acme: on Sales pipeline, for "Initech": one in Backlog, one in Doing (blocked), one
    finished 2 days after commitment; "initech " (same customer, other spelling) in Ready on
    a Product board; "Umbrella" in Ready; one archived Initech card. Globex: an "Initech"
    card on its own board, which Acme must never see."""
    now = timezone.now()
    alice = world.alice
    sales = {c.name: c for c in world.board.columns.all()}
    product_board = services.create_board(team=world.product, name="Product roadmap", actor=alice)
    product = {c.name: c for c in product_board.columns.all()}

    def card(board, column, title, customer, at=None):
        return services.create_card(
            board, title=title, column=column, customer=customer, actor=alice, at=at
        )

    backlog = card(world.board, sales["Backlog"], "Quote", "Initech")
    doing = card(world.board, sales["Doing"], "Install", "Initech", at=now - timedelta(days=3))
    services.block_card(doing, reason="Waiting for site access", actor=alice)
    done = card(world.board, sales["Ready"], "Kick-off", "Initech", at=now - timedelta(days=5))
    services.move_card(done, to_column=sales["Done"], actor=alice, at=now - timedelta(days=3))
    other_board = card(product_board, product["Ready"], "Integration", "  initech ")
    card(world.board, sales["Ready"], "Umbrella deal", "Umbrella")
    archived = card(world.board, sales["Ready"], "Old thing", "Initech")
    services.archive_card(archived, actor=alice)
    card(world.board, sales["Ready"], "No customer", "")
    globex_col = world.globex_board.columns.get(name="Ready")
    foreign = services.create_card(
        world.globex_board,
        title="Globex secret",
        column=globex_col,
        customer="Initech",
        actor=world.gina,
    )
    return {
        "backlog": backlog,
        "doing": doing,
        "done": done,
        "other_board": other_board,
        "product_board": product_board,
        "foreign": foreign,
        "archived": archived,
    }


def test_the_list_counts_each_customer_across_boards_and_spellings(world, api, work):
    response = api(world.mia).get("/api/v1/orgs/acme/customers/")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["results"] == [
        # Globex's Initech card and the archived one are not counted; "  initech " is Initech.
        {"name": "Initech", "open": 3, "finished": 1, "blocked": 1, "boards": 2},
        {"name": "Umbrella", "open": 1, "finished": 0, "blocked": 0, "boards": 1},
    ]


def test_a_customers_cards_by_board_and_stage_with_lead_time_and_flags(world, api, work):
    response = api(world.victor).get("/api/v1/orgs/acme/customers/initech/cards/")
    assert response.status_code == 200
    cards = response.json()["results"]
    # Boards by name (Product roadmap before Sales pipeline), then backlog -> done.
    assert [(c["board_name"], c["stage"], c["title"]) for c in cards] == [
        ("Product roadmap", "wait", "Integration"),
        ("Sales pipeline", "backlog", "Quote"),
        ("Sales pipeline", "active", "Install"),
        ("Sales pipeline", "done", "Kick-off"),
    ]
    by_title = {c["title"]: c for c in cards}
    assert by_title["Kick-off"]["lead_time_days"] == pytest.approx(2.0, abs=0.01)
    assert by_title["Kick-off"]["finished_at"] is not None
    assert by_title["Kick-off"]["age_days"] is None
    assert by_title["Install"]["blocked"] is True
    assert by_title["Install"]["block_reason"] == "Waiting for site access"
    assert by_title["Install"]["age_days"] == pytest.approx(3.0, abs=0.01)
    assert by_title["Install"]["lead_time_days"] is None
    assert by_title["Quote"]["age_days"] is None  # not committed yet
    assert {c["id"] for c in cards}.isdisjoint({work["foreign"].pk, work["archived"].pk})


def test_an_open_ageing_alert_flags_the_card(world, api, work):
    # Install has been in Doing 3 days: past a threshold of one day.
    alerts.check_ageing_alerts(world.board.pk, threshold_days=1.0)
    assert Alert.objects.filter(kind=AlertKind.AGEING, card=work["doing"]).exists()
    cards = api(world.bob).get("/api/v1/orgs/acme/customers/Initech/cards/").json()["results"]
    assert {c["title"]: c["ageing"] for c in cards} == {
        "Integration": False,
        "Quote": False,
        "Install": True,
        "Kick-off": False,
    }


def test_another_organisations_cards_with_the_same_customer_never_appear(world, api, work):
    gina = api(world.gina)
    # Globex's own view has only its own Initech card.
    assert gina.get("/api/v1/orgs/globex/customers/").json()["results"] == [
        {"name": "Initech", "open": 1, "finished": 0, "blocked": 0, "boards": 1}
    ]
    cards = gina.get("/api/v1/orgs/globex/customers/Initech/cards/").json()["results"]
    assert [c["id"] for c in cards] == [work["foreign"].pk]
    # ...and Acme's slug is not found for her, as a missing one.
    assert gina.get("/api/v1/orgs/acme/customers/").status_code == 404
    assert gina.get("/api/v1/orgs/acme/customers/Initech/cards/").status_code == 404
    assert api(world.alice).get("/api/v1/orgs/globex/customers/").status_code == 404


def test_an_unknown_customer_is_404_in_json(world, api, work):
    response = api(world.bob).get("/api/v1/orgs/acme/customers/Nobody/cards/")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert api(None).get("/api/v1/orgs/acme/customers/").status_code == 401


def test_a_customer_name_with_a_slash_and_spaces_round_trips(world, api, client):
    col = world.board.columns.get(name="Ready")
    services.create_card(
        world.board, title="AB", column=col, customer="A/B Tests & Co", actor=world.alice
    )
    cards = (
        api(world.bob)
        .get(f"/api/v1/orgs/acme/customers/{quote('A/B Tests & Co')}/cards/")
        .json()["results"]
    )
    assert [c["title"] for c in cards] == ["AB"]
    client.force_login(world.bob)
    page = client.get("/o/acme/customers/")
    assert 'href="/o/acme/customers/A/B%20Tests%20&amp;%20Co/"' in page.content.decode()
    assert client.get("/o/acme/customers/A/B%20Tests%20&%20Co/").status_code == 200


def add_customer_cards(world, board, n: int, customer: str) -> None:
    col = board.columns.get(name="Doing")
    for i in range(n):
        card = services.create_card(
            board, title=f"{customer} {i}", column=col, customer=customer, actor=world.alice
        )
        if i % 2:
            services.block_card(card, reason="why", actor=world.alice)


def test_both_reads_cost_the_same_queries_for_few_cards_or_many(
    world, api, django_assert_num_queries
):
    client = api(world.bob)
    assert client.get("/api/v1/me/").status_code == 200  # the token's first use is recorded
    add_customer_cards(world, world.board, 2, "Hooli")
    # token, organisation membership, count, page
    with django_assert_num_queries(4):
        assert client.get("/api/v1/orgs/acme/customers/").json()["count"] == 1
    with django_assert_num_queries(4):
        assert client.get("/api/v1/orgs/acme/customers/Hooli/cards/").json()["count"] == 2
    other = services.create_board(team=world.product, name="Second", actor=world.alice)
    add_customer_cards(world, other, 10, "Hooli")
    add_customer_cards(world, world.board, 5, "Pied Piper")
    with django_assert_num_queries(4):
        assert client.get("/api/v1/orgs/acme/customers/").json()["count"] == 2
    with django_assert_num_queries(4):
        assert client.get("/api/v1/orgs/acme/customers/Hooli/cards/").json()["count"] == 12


def test_the_pages_read_with_a_fixed_number_of_queries(
    world, client, django_assert_max_num_queries
):
    add_customer_cards(world, world.board, 3, "Hooli")
    client.force_login(world.bob)
    client.get("/o/acme/customers/")  # the session's first read
    with django_assert_max_num_queries(8) as few:
        assert client.get("/o/acme/customers/Hooli/").status_code == 200
    add_customer_cards(world, world.board, 20, "Hooli")
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get("/o/acme/customers/Hooli/").status_code == 200


def test_the_customer_pages_show_the_work_and_the_tab(world, client, work):
    client.force_login(world.victor)
    listing = client.get("/o/acme/customers/")
    assert listing.status_code == 200
    html = listing.content.decode()
    assert 'href="/o/acme/customers/"' in html and 'aria-current="page">Customers' in html
    assert 'data-customer="Initech"' in html and 'data-customer="Umbrella"' in html
    page = client.get("/o/acme/customers/Initech/")
    html = page.content.decode()
    assert page.status_code == 200
    assert f'data-card-id="{work["doing"].pk}"' in html and 'data-blocked="true"' in html
    assert "lead time 2.0 d" in html
    assert "Globex secret" not in html and "Old thing" not in html
    assert html.index("Product roadmap") < html.index("Sales pipeline")
    missing = client.get("/o/acme/customers/Nobody/")
    assert missing.status_code == 404 and "No card of Acme is for" in missing.content.decode()
    # Every org page has the tab.
    assert 'href="/o/acme/customers/"' in client.get("/o/acme/activity/").content.decode()


def test_another_organisations_customer_pages_are_404(world, client, work):
    client.force_login(world.gina)
    assert client.get("/o/acme/customers/").status_code == 404
    assert client.get("/o/acme/customers/Initech/").status_code == 404
    page = client.get("/o/globex/customers/Initech/")
    assert page.status_code == 200 and "Globex secret" in page.content.decode()
    assert "Install" not in page.content.decode()
