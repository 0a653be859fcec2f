"""Flow metrics on a hand-built history, against figures worked out by hand.

The board has the default columns: Backlog (backlog), Ready (wait), Doing (active),
Review (wait), Done (done). T0 is Monday 5 January 2026, 09:00 UTC (ISO week 2026-W02); the
window is January 2026 and "now" is 1 February 2026, 00:00 UTC.

    A  Backlog@T0, Ready@+1d, Doing@+2d, Review@+4d, Done@+5d   lead 4, cycle 3, active 2
    B  Ready@T0, Doing@+1d, blocked +1.5d..+2d, Done@+3d         lead 3, cycle 2, active 1.5
    C  Backlog@T0, Ready@+1d, Done@+2d (skips active)            lead 1, no cycle, active 0
    D  Ready@T0, Doing@+1d, Done@+2d, back to Doing@+3d,
       Done@+8d (finish = last entry into Done, 13 Jan, W03)     lead 8, cycle 7, active 6
    E  Ready@T0, Doing@+10d, blocked from 25 Jan 09:00 (open)    in progress
    F  Ready@T0, Done@+1d, back to Doing@+2d                     in progress (reopened)

    lead [1, 3, 4, 8]: mean 4, p50 3.5, p85 4 + .55 * 4 = 6.2, p95 4 + .85 * 4 = 7.4
    cycle [2, 3, 7]:   mean 4, p50 3,   p85 3 + .7 * 4 = 5.8,  p95 3 + .9 * 4 = 6.6
    flow efficiency (2 + 1.5 + 0 + 6) / (4 + 3 + 1 + 8) = 9.5 / 16 = 0.59375
    throughput W01 0, W02 3 (A, B, C), W03 1 (D), W04 0, W05 0
    blocked in January: B 0.5 d + E 6.625 d (25 Jan 09:00 -> 1 Feb 00:00) = 7.125 d
"""

from datetime import UTC, date, datetime, timedelta

import pytest

from boards import services
from boards.flow import metrics
from boards.models import Board

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
NOW = datetime(2026, 2, 1, 0, 0, tzinfo=UTC)
JANUARY = metrics.Window(date(2026, 1, 1), date(2026, 1, 31))


def d(days: float) -> datetime:
    return T0 + timedelta(days=days)


@pytest.fixture
def history(world):
    board, alice = world.board, world.alice
    col = {c.name: c for c in board.columns.all()}

    def card(title, column, at):
        return services.create_card(board, title=title, column=col[column], actor=alice, at=at)

    def move(c, column, at):
        c.refresh_from_db()
        services.move_card(c, to_column=col[column], actor=alice, at=at)

    a = card("A", "Backlog", d(0))
    b = card("B", "Ready", d(0))
    c = card("C", "Backlog", d(0))
    dd = card("D", "Ready", d(0))
    e = card("E", "Ready", d(0))
    f = card("F", "Ready", d(0))
    # day 1
    move(a, "Ready", d(1))
    move(b, "Doing", d(1))
    move(c, "Ready", d(1))
    move(dd, "Doing", d(1))
    move(f, "Done", d(1))
    services.block_card(b, reason="Waiting for the customer", actor=alice, at=d(1.5))
    # day 2
    move(a, "Doing", d(2))
    services.unblock_card(b, actor=alice, at=d(2))
    move(c, "Done", d(2))
    move(dd, "Done", d(2))
    move(f, "Doing", d(2))
    move(b, "Done", d(3))
    move(dd, "Doing", d(3))
    move(a, "Review", d(4))
    move(a, "Done", d(5))
    move(dd, "Done", d(8))
    move(e, "Doing", d(10))
    services.block_card(
        e, reason="Vendor outage", actor=alice, at=datetime(2026, 1, 25, 9, tzinfo=UTC)
    )
    return board, {"A": a, "B": b, "C": c, "D": dd, "E": e, "F": f, "col": col}


@pytest.mark.parametrize("engine", ["sql", "python"])
def test_lead_and_cycle_time_match_the_hand_worked_figures(history, engine):
    board, _ = history
    result = metrics.compute_board_metrics(board, JANUARY, now=NOW, engine=engine)
    assert result["lead_time"] == {"count": 4, "mean": 4.0, "p50": 3.5, "p85": 6.2, "p95": 7.4}
    assert result["cycle_time"] == {"count": 3, "mean": 4.0, "p50": 3.0, "p85": 5.8, "p95": 6.6}


@pytest.mark.parametrize("engine", ["sql", "python"])
def test_finished_cards_carry_their_own_lead_and_cycle_times(history, engine):
    board, cards = history
    result = metrics.compute_board_metrics(board, JANUARY, now=NOW, engine=engine)
    by_card = {f["card"]: f for f in result["finished"]}
    assert set(by_card) == {cards[n].pk for n in "ABCD"}  # E and F are not finished
    assert by_card[cards["C"].pk]["cycle_days"] is None  # skipped the active columns
    assert by_card[cards["D"].pk]["lead_days"] == 8.0  # finish = its last entry into Done
    assert by_card[cards["D"].pk]["finished_at"] == d(8).isoformat()
    assert by_card[cards["B"].pk]["active_days"] == pytest.approx(1.5)  # blocked time excluded


@pytest.mark.parametrize("engine", ["sql", "python"])
def test_flow_efficiency_throughput_and_blocked_time(history, engine):
    board, _ = history
    result = metrics.compute_board_metrics(board, JANUARY, now=NOW, engine=engine)
    assert result["flow_efficiency"]["value"] == pytest.approx(0.59375)
    assert result["flow_efficiency"]["lead_days"] == pytest.approx(16)
    assert result["throughput"] == [
        {"week": "2026-W01", "count": 0},
        {"week": "2026-W02", "count": 3},
        {"week": "2026-W03", "count": 1},
        {"week": "2026-W04", "count": 0},
        {"week": "2026-W05", "count": 0},
    ]
    assert result["blocked"] == {"blocked_days": 7.125, "blocks_started": 2, "currently_blocked": 1}


@pytest.mark.parametrize("engine", ["sql", "python"])
def test_cumulative_flow_counts_cards_per_column_at_the_end_of_each_day(history, engine):
    board, _ = history
    result = metrics.compute_board_metrics(board, JANUARY, now=NOW, engine=engine)
    days = result["cfd"]["days"]
    counts = {c["name"]: c["counts"] for c in result["cfd"]["columns"]}

    def on(day: str) -> dict[str, int]:
        return {name: counts[name][days.index(day)] for name in counts}

    assert on("2026-01-01") == {"Backlog": 0, "Ready": 0, "Doing": 0, "Review": 0, "Done": 0}
    assert on("2026-01-05") == {"Backlog": 2, "Ready": 4, "Doing": 0, "Review": 0, "Done": 0}
    assert on("2026-01-06") == {"Backlog": 0, "Ready": 3, "Doing": 2, "Review": 0, "Done": 1}
    assert on("2026-01-31") == {"Backlog": 0, "Ready": 0, "Doing": 2, "Review": 0, "Done": 4}


def test_ageing_work_lists_committed_unfinished_cards_with_their_age(history):
    board, cards = history
    result = metrics.compute_board_metrics(board, JANUARY, now=NOW)
    ageing = {a["card"]: a for a in result["ageing"]}
    assert set(ageing) == {cards["E"].pk, cards["F"].pk}
    assert ageing[cards["E"].pk]["age_days"] == pytest.approx(26.62, abs=0.01)
    assert ageing[cards["E"].pk]["blocked"] is True


def _approx_equal(left, right, path="") -> None:
    if isinstance(left, dict):
        assert set(left) == set(right), path
        for key in left:
            _approx_equal(left[key], right[key], f"{path}.{key}")
    elif isinstance(left, list):
        assert len(left) == len(right), path
        for i, (a, b) in enumerate(zip(left, right, strict=True)):
            _approx_equal(a, b, f"{path}[{i}]")
    elif isinstance(left, float):
        assert left == pytest.approx(right, abs=1e-3), path
    else:
        assert left == right, path


def test_sql_and_python_engines_agree_on_the_same_history(history):
    board, _ = history
    sql = metrics.compute_board_metrics(board, JANUARY, now=NOW, engine="sql")
    python = metrics.compute_board_metrics(board, JANUARY, now=NOW, engine="python")
    sql.pop("engine"), python.pop("engine")
    for f in python["finished"]:
        f.setdefault("title", "")
    _approx_equal(sql, python)


@pytest.mark.parametrize("engine", ["sql", "python"])
def test_an_empty_board_has_no_figures_but_a_complete_shape(world, engine):
    result = metrics.compute_board_metrics(world.board, JANUARY, now=NOW, engine=engine)
    assert result["lead_time"] == {"count": 0, "mean": None, "p50": None, "p85": None, "p95": None}
    assert result["cycle_time"]["count"] == 0
    assert result["flow_efficiency"]["value"] is None
    assert sum(w["count"] for w in result["throughput"]) == 0
    assert all(set(c["counts"]) == {0} for c in result["cfd"]["columns"])
    assert result["ageing"] == []
    assert [c["wip"] for c in result["wip"]] == [0, 0, 0, 0, 0]


def test_a_window_excludes_cards_finished_outside_it(history):
    board, _ = history
    second_week = metrics.Window(date(2026, 1, 12), date(2026, 1, 18))
    result = metrics.compute_board_metrics(board, second_week, now=NOW)
    assert result["lead_time"]["count"] == 1  # D only, finished 13 January
    assert result["throughput"] == [{"week": "2026-W03", "count": 1}]


def test_refresh_snapshot_stores_the_default_window_once_per_board(history):
    board, _ = history
    first = metrics.refresh_snapshot(board.pk)
    second = metrics.refresh_snapshot(board.pk)
    assert first.pk == second.pk  # idempotent: replaced, not duplicated
    assert Board.objects.get(pk=board.pk).metrics_snapshots.filter(is_default=True).count() == 1
    assert "computed_at" in second.data


def test_the_incremental_refresh_after_a_change_matches_a_full_recompute(world):
    # given: a month of recent history and a stored snapshot of it
    board, alice = world.board, world.alice
    col = {c.name: c for c in board.columns.all()}
    now = datetime.now(UTC)
    cards = []
    for i in range(6):
        start = now - timedelta(days=30 - i * 4)
        card = services.create_card(
            board, title=f"c{i}", column=col["Backlog"], actor=alice, at=start
        )
        for j, column in enumerate(("Ready", "Doing", "Review", "Done")[: 2 + i % 3]):
            card.refresh_from_db()
            services.move_card(
                card, to_column=col[column], actor=alice, at=start + timedelta(days=1 + j, hours=i)
            )
        cards.append(card)
    services.block_card(cards[1], reason="waiting", actor=alice, at=now - timedelta(days=3))
    metrics.refresh_snapshot(board.pk)

    # when: work moves on today, and the task refreshes incrementally
    for card in cards[:3]:
        card.refresh_from_db()
        services.move_card(card, to_column=col["Done"], actor=alice)
    services.unblock_card(cards[1], actor=alice)
    incremental = metrics.refresh_after_change(board.pk).data
    full = metrics.compute_board_metrics(board, metrics.default_window())

    # then: every figure agrees with reading the whole history again
    assert incremental["refresh"] == "incremental"
    for key in (
        "lead_time",
        "cycle_time",
        "throughput",
        "flow_efficiency",
        "blocked",
        "cfd",
        "wip",
        "ageing",
        "finished",
    ):
        _approx_equal(incremental[key], full[key], key)


# --- one class of service --------------------------------------------------------------------
# B and D are expedite (their class now: the filter reads the cards' current class), the rest
# standard. Expedite only:
#   lead [3, 8]:  mean 5.5, p50 5.5, p85 3 + .85 * 5 = 7.25, p95 3 + .95 * 5 = 7.75
#   cycle [2, 7]: mean 4.5, p50 4.5, p85 2 + .85 * 5 = 6.25, p95 6.75
#   flow efficiency (1.5 + 6) / (3 + 8) = 7.5 / 11; throughput W02 1 (B), W03 1 (D)
#   blocked: B's 0.5 d only (E's open block is standard work)
# Standard only: lead [1, 4] (A, C): p50 2.5.


@pytest.fixture
def classed(history):
    board, cards = history
    for name in "BD":
        services.update_card(cards[name], class_of_service="expedite", actor=cards[name].created_by)
    return board, cards


@pytest.mark.parametrize("engine", ["sql", "python"])
def test_one_class_of_service_counts_only_its_cards(classed, engine):
    board, _ = classed
    expedite = metrics.compute_board_metrics(
        board, JANUARY, now=NOW, engine=engine, class_of_service="expedite"
    )
    assert expedite["lead_time"] == {
        "count": 2, "mean": 5.5, "p50": 5.5, "p85": 7.25, "p95": 7.75,
    }  # fmt: skip
    assert expedite["cycle_time"] == {
        "count": 2, "mean": 4.5, "p50": 4.5, "p85": 6.25, "p95": 6.75,
    }  # fmt: skip
    assert expedite["flow_efficiency"]["value"] == pytest.approx(7.5 / 11)
    assert [w["count"] for w in expedite["throughput"]] == [0, 1, 1, 0, 0]
    assert expedite["blocked"] == {"blocked_days": 0.5, "blocks_started": 1, "currently_blocked": 0}
    counts = {c["name"]: c["counts"] for c in expedite["cfd"]["columns"]}
    days = expedite["cfd"]["days"]
    assert {n: counts[n][days.index("2026-01-05")] for n in counts} == {
        "Backlog": 0, "Ready": 2, "Doing": 0, "Review": 0, "Done": 0,
    }  # fmt: skip
    assert counts["Done"][days.index("2026-01-31")] == 2

    standard = metrics.compute_board_metrics(
        board, JANUARY, now=NOW, engine=engine, class_of_service="standard"
    )
    assert standard["lead_time"]["count"] == 2 and standard["lead_time"]["p50"] == 2.5
    # and without the parameter, the whole board as ever
    whole = metrics.compute_board_metrics(board, JANUARY, now=NOW, engine=engine)
    assert whole["lead_time"] == {"count": 4, "mean": 4.0, "p50": 3.5, "p85": 6.2, "p95": 7.4}


def test_a_class_without_cards_has_no_figures(classed):
    board, _ = classed
    none = metrics.compute_board_metrics(board, JANUARY, now=NOW, class_of_service="intangible")
    assert none["lead_time"]["count"] == 0 and none["lead_time"]["p50"] is None
    assert none["blocked"]["blocked_days"] == 0
