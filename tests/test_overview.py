"""The organisation overview (boards.flow.overview, GET /api/v1/orgs/{slug}/overview/): one row per
board whose figures agree with each board's own metrics endpoint and cards, readable by every
member of the organisation, sortable, and in a number of queries that does not grow with the
number of boards.

History is written through the services with explicit clocks relative to now:

    Sales:   finished 56..28 days ago with lead times 2, 4, 6 days; in the last 28 days with
             lead times 10 and 12 days (lead time p85 5.4 -> 11.7: "up"); Doing (limit 2)
             holds 2 cards, Review (limit 1) holds 2 and has a WIP alert; one card blocked
             for 3 days, one archived card blocked too (not counted).
    Product: 30 and 29 days ago lead 9 and 10 days; 10 and 3 days ago lead 2 and 3 days
             (p85 9.85 -> 2.85: "down"); nothing in progress.
    Empty:   no card at all.
"""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from boards import services
from boards.flow import alerts, metrics, overview
from boards.flow.metrics import iso_week
from boards.models import Board, Card

pytestmark = pytest.mark.django_db

API = "/api/v1"


def finish_card(board, actor, title: str, *, lead_days: float, finished_ago: float, now):
    """A card committed `lead_days` before it finished `finished_ago` days before `now`."""
    columns = {c.name: c for c in board.columns.all()}
    done_at = now - timedelta(days=finished_ago)
    committed = done_at - timedelta(days=lead_days)
    card = services.create_card(
        board, title=title, column=columns["Ready"], actor=actor, at=committed
    )
    services.move_card(
        card,
        to_column=columns["Doing"],
        actor=actor,
        at=committed + timedelta(days=lead_days / 2),
    )
    card.refresh_from_db()
    services.move_card(card, to_column=columns["Done"], actor=actor, at=done_at)
    return card


@pytest.fixture
def org(world):
    """Three boards of Acme with the history of the module's docstring, snapshots refreshed."""
    now = timezone.now()
    sales, alice = world.board, world.alice
    col = {c.name: c for c in sales.columns.all()}
    services.update_column(col["Doing"], wip_limit=2, actor=alice)
    services.update_column(col["Review"], wip_limit=1, actor=alice)
    for i, lead in enumerate((2, 4, 6)):
        finish_card(sales, alice, f"old {i}", lead_days=lead, finished_ago=40 - i, now=now)
    for i, lead in enumerate((10, 12)):
        finish_card(sales, alice, f"new {i}", lead_days=lead, finished_ago=5 + i, now=now)
    doing = [
        services.create_card(sales, title=f"doing {i}", column=col["Doing"], actor=alice)
        for i in range(2)
    ]
    for i in range(2):
        services.create_card(sales, title=f"review {i}", column=col["Review"], actor=alice)
    services.create_card(sales, title="ready", column=col["Ready"], actor=alice)
    services.create_card(sales, title="idea", column=col["Backlog"], actor=alice)
    services.block_card(doing[0], reason="Vendor", actor=alice, at=now - timedelta(days=3))
    gone = services.create_card(sales, title="gone", column=col["Ready"], actor=alice)
    services.block_card(gone, reason="Old", actor=alice, at=now - timedelta(days=9))
    services.archive_card(gone, actor=alice)
    alerts.check_wip_alerts(sales.pk)

    product = services.create_board(team=world.product, name="Roadmap", actor=alice)
    for i, (lead, ago) in enumerate(((9, 30), (10, 29), (2, 10), (3, 3))):
        finish_card(product, alice, f"p{i}", lead_days=lead, finished_ago=ago, now=now)

    empty = services.create_board(team=world.product, name="Empty", actor=alice)
    for board in (sales, product, empty):
        metrics.refresh_snapshot(board.pk)
    return {"sales": sales, "product": product, "empty": empty}


def overview_of(api, user, query: str = "") -> dict:
    response = api(user).get(f"{API}/orgs/acme/overview/{query}")
    assert response.status_code == 200, response.content
    return response.json()


def rows_by_name(payload: dict) -> dict[str, dict]:
    return {row["board_name"]: row for row in payload["boards"]}


def test_overview_has_one_row_per_board_of_the_organisation_with_every_key(world, api, org):
    payload = overview_of(api, world.alice)

    assert payload["organization"] == "acme"
    assert [row["board_name"] for row in payload["boards"]] == [
        "Empty",
        "Roadmap",
        "Sales pipeline",
    ]  # team Product before Sales, then board name
    for row in payload["boards"]:
        assert tuple(row) == overview.OVERVIEW_KEYS
    assert "Globex ops" not in rows_by_name(payload)


def test_overview_lead_time_and_flow_efficiency_agree_with_each_boards_metrics(world, api, org):
    client = api(world.alice)
    rows = rows_by_name(overview_of(api, world.alice))

    for board in org.values():
        board_metrics = client.get(f"{API}/boards/{board.pk}/metrics/").json()
        row = rows[board.name]
        assert row["lead_p85"] == board_metrics["lead_time"]["p85"]
        assert row["flow_efficiency"] == board_metrics["flow_efficiency"]["value"]
        assert row["computed_at"] == board_metrics["computed_at"]
    # and the figures are real ones, not two Nones agreeing
    assert rows["Sales pipeline"]["lead_p85"] == pytest.approx(
        metrics.percentile([2, 4, 6, 10, 12], 0.85)
    )
    assert 0 < rows["Sales pipeline"]["flow_efficiency"] < 1
    assert rows["Empty"]["lead_p85"] is None


def test_overview_throughput_counts_the_cards_finished_per_week_and_in_28_days(world, api, org):
    payload = overview_of(api, world.alice)
    rows = rows_by_name(payload)
    now = timezone.now()

    assert len(payload["weeks"]) == overview.SPARKLINE_WEEKS
    assert payload["weeks"][-1] == iso_week(now.date())
    for board in org.values():
        finished = list(
            Card.objects.filter(board=board, finished_at__isnull=False).values_list(
                "finished_at", flat=True
            )
        )
        weekly = [sum(iso_week(f.date()) == week for f in finished) for week in payload["weeks"]]
        assert rows[board.name]["throughput_weeks"] == weekly
        assert rows[board.name]["throughput_4w"] == sum(
            now - f <= timedelta(days=28) for f in finished
        )
    assert rows["Sales pipeline"]["throughput_4w"] == 2
    assert rows["Roadmap"]["throughput_4w"] == 2  # 30 and 29 days ago are the previous period
    assert sum(rows["Sales pipeline"]["throughput_weeks"]) == 5


def test_overview_lead_time_trend_compares_the_last_four_weeks_with_the_four_before(
    world, api, org
):
    rows = rows_by_name(overview_of(api, world.alice))

    sales, product, empty = rows["Sales pipeline"], rows["Roadmap"], rows["Empty"]
    assert sales["lead_p85_previous"] == pytest.approx(5.4)  # 4 + 0.7 * (6 - 4)
    assert sales["lead_p85_recent"] == pytest.approx(11.7)  # 10 + 0.85 * (12 - 10)
    assert sales["lead_trend"] == "up"  # longer lead times: worse
    assert product["lead_p85_previous"] == pytest.approx(9.85)
    assert product["lead_p85_recent"] == pytest.approx(2.85)
    assert product["lead_trend"] == "down"
    assert (empty["lead_p85_recent"], empty["lead_trend"]) == (None, None)


def test_lead_trend_is_flat_within_the_tolerance_and_unknown_without_both_periods():
    assert overview.lead_trend(10.5, 10.0) == "flat"
    assert overview.lead_trend(11.5, 10.0) == "up"
    assert overview.lead_trend(8.5, 10.0) == "down"
    assert overview.lead_trend(None, 10.0) is None
    assert overview.lead_trend(3.0, None) is None
    assert overview.lead_trend(0.0, 0.0) == "flat"


def test_overview_wip_blocks_and_alerts_per_board(world, api, org):
    rows = rows_by_name(overview_of(api, world.alice))

    sales = rows["Sales pipeline"]
    assert sales["wip"] == 5  # 2 Doing + 2 Review + 1 Ready; not the backlog, not Done
    # Doing (2) and Review (1) have limits but Ready has none: no overall cap to compare with
    assert sales["wip_limit"] is None
    assert (sales["columns_at_limit"], sales["columns_over_limit"]) == (1, 1)
    assert sales["blocked"] == 1  # the archived blocked card does not count
    assert sales["oldest_block_days"] == pytest.approx(3.0, abs=0.01)
    assert sales["open_alerts"] == 1  # Review over its limit
    empty = rows["Empty"]
    assert (empty["wip"], empty["wip_limit"], empty["blocked"]) == (0, None, 0)
    assert (empty["oldest_block_days"], empty["open_alerts"]) == (None, 0)
    assert empty["throughput_weeks"] == [0] * overview.SPARKLINE_WEEKS


def test_the_wip_limit_is_the_sum_when_every_in_progress_column_has_one(world, api):
    for name, limit in (("Ready", 3), ("Doing", 2), ("Review", 1)):
        services.update_column(world.column(name), wip_limit=limit, actor=world.alice)
    services.create_card(
        world.board, title="in progress", column=world.column("Doing"), actor=world.alice
    )
    row = rows_by_name(overview_of(api, world.alice))[world.board.name]
    assert (row["wip"], row["wip_limit"], row["columns_at_limit"]) == (1, 6, 0)


def test_a_board_without_a_snapshot_shows_no_snapshot_figures(world, api, org):
    services.create_board(team=world.sales, name="Brand new", actor=world.alice)

    row = rows_by_name(overview_of(api, world.alice))["Brand new"]

    assert (row["lead_p85"], row["flow_efficiency"], row["computed_at"]) == (None, None, None)


def test_every_member_reads_the_overview_even_a_viewer(world, api, org):
    for user in (world.victor, world.mia, world.bob):
        assert len(overview_of(api, user)["boards"]) == 3


def test_another_organisations_overview_is_not_found(world, api, org):
    response = api(world.gina).get(f"{API}/orgs/acme/overview/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert api(world.alice).get(f"{API}/orgs/globex/overview/").status_code == 404
    assert api(None).get(f"{API}/orgs/acme/overview/").status_code == 401


def test_overview_sorts_by_any_key_descending_with_a_minus_and_empty_figures_last(world, api, org):
    def names(query: str) -> list[str]:
        return [row["board_name"] for row in overview_of(api, world.alice, query)["boards"]]

    assert names("?sort=-wip") == ["Sales pipeline", "Empty", "Roadmap"]  # ties: default order
    assert names("?sort=lead_p85_recent") == ["Roadmap", "Sales pipeline", "Empty"]
    assert names("?sort=-lead_p85_recent") == ["Sales pipeline", "Roadmap", "Empty"]
    assert names("?sort=-board_name") == ["Sales pipeline", "Roadmap", "Empty"]
    assert names("?sort=-throughput_weeks")[0] == "Sales pipeline"


def test_an_unknown_sort_key_is_refused_with_400(world, api, org):
    for bad in ("nope", "--wip", "-"):
        response = api(world.alice).get(f"{API}/orgs/acme/overview/?sort={bad}")
        assert response.status_code == 400
        assert response.json()["code"] == "invalid"
        assert "sort" in response.json()["fields"]


def _queries_of_overview(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"{API}/orgs/acme/overview/")
    assert response.status_code == 200
    return len(queries)


def test_the_overview_costs_the_same_queries_for_3_boards_and_for_60(world, api, org):
    # given: a client whose token's first use is behind it (it records last_used_at once)
    client = api(world.alice)
    assert client.get(f"{API}/me/").status_code == 200
    with_3 = _queries_of_overview(client)

    # when: 57 more boards, some with work in progress, blocks, finished cards and snapshots
    now = timezone.now()
    for i in range(57):
        board = services.create_board(team=world.sales, name=f"Board {i:02d}", actor=world.alice)
        if i % 10 == 0:
            card = finish_card(board, world.alice, "done", lead_days=3, finished_ago=2, now=now)
            ready = board.columns.get(name="Ready")
            wip = services.create_card(board, title="wip", column=ready, actor=world.alice)
            services.block_card(wip, reason="Waiting", actor=world.alice)
            upstream = services.create_card(board, title="up", column=ready, actor=world.alice)
            services.add_wait(wip, on=upstream, actor=world.alice)  # teams waiting on teams
            metrics.refresh_snapshot(board.pk)
            assert card.pk
    with_60 = _queries_of_overview(client)

    # then
    assert Board.objects.filter(organization=world.acme).count() == 60
    assert with_60 == with_3
    assert with_3 <= 10  # token, organisation, the overview's seven, teams waiting on teams


def test_org_overview_reads_a_fixed_number_of_queries(world, org, django_assert_num_queries):
    with django_assert_num_queries(7):
        rows = overview.org_overview(world.acme)
    assert len(rows) == 3
