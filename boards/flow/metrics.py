"""Flow metrics computed from the move history (DESIGN.md's definitions, exactly).

- Commitment: a card's first entry into a non-backlog column (its creation, if created there).
- Finished: while its last move is into a `done` column; finish time is its last entry into one.
- Lead time = commitment -> finish. Cycle time = first entry into an `active` column -> finish.
- Flow efficiency = time in active columns while not blocked / lead time, over finished cards.
- Throughput = cards finished per ISO week. Percentiles interpolate linearly (percentile_cont).

On Postgres every figure is one SQL statement over the history (window functions, FILTERed
aggregates, percentile_cont with GROUP BY, as it is not a window function). On SQLite, the
embedded default, the same figures are computed in Python from the same rows; the tests check
that both paths agree on the same history.
"""

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from boards.models import Block, Board, Card, CardMove, Column, MetricsSnapshot, Stage
from kanban import sql
from kanban.exceptions import InvalidInput, NotFound

DAY = 86_400.0
PERCENTILES = (0.5, 0.85, 0.95)
MAX_WINDOW_DAYS = 731  # a window chosen with from/to spans at most two years
# ... and lies within these days: the window's arithmetic (the day after its end, its first
# ISO week) must stay inside the dates Python and Postgres can hold.
EARLIEST_DAY = date(2000, 1, 1)
LATEST_DAY = date(2100, 12, 31)
SCATTER_LIMIT = 500
AGEING_LIMIT = 500


@dataclass(frozen=True)
class Window:
    start: date  # inclusive
    end: date  # inclusive

    @property
    def start_at(self) -> datetime:
        return datetime.combine(self.start, time.min, tzinfo=UTC)

    @property
    def end_at(self) -> datetime:
        return datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=UTC)

    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]


def chosen_window(start: date, end: date) -> Window:
    """The window a person asked for (the API's and the page's from/to), or InvalidInput
    saying what is wrong with it, with the field to blame."""
    for name, day in (("from", start), ("to", end)):
        if not EARLIEST_DAY <= day <= LATEST_DAY:
            problem = f"The window's dates lie between {EARLIEST_DAY} and {LATEST_DAY}."
            raise InvalidInput(problem, fields={name: [problem]})
    if start > end:
        raise InvalidInput(
            "The window must not start after it ends.",
            fields={"from": ["from must not be after to."]},
        )
    if (end - start).days > MAX_WINDOW_DAYS:
        problem = "A window spans at most two years."
        raise InvalidInput(problem, fields={"to": [problem]})
    return Window(start, end)


def default_window(now: datetime | None = None, days: int = 90) -> Window:
    today = (now or timezone.now()).astimezone(UTC).date()
    return Window(today - timedelta(days=days - 1), today)


def percentile(values: list[float], q: float) -> float | None:
    """Linear interpolation between closest ranks: Postgres' percentile_cont, numpy's default."""
    if not values:
        return None
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo = math.floor(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def _stats(values: list[float]) -> dict[str, Any]:
    return {
        "count": len(values),
        "mean": _r(sum(values) / len(values)) if values else None,
        "p50": _r(percentile(values, 0.5)),
        "p85": _r(percentile(values, 0.85)),
        "p95": _r(percentile(values, 0.95)),
    }


def _r(value: float | None, digits: int = 6) -> float | None:
    return None if value is None else round(value, digits)


def iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def _weeks(window: Window) -> list[str]:
    weeks: list[str] = []
    for day in window.days():
        label = iso_week(day)
        if not weeks or weeks[-1] != label:
            weeks.append(label)
    return weeks


# --- the entry point -------------------------------------------------------------------------


def compute_board_metrics(
    board: Board,
    window: Window | None = None,
    *,
    now: datetime | None = None,
    engine: str | None = None,
    class_of_service: str | None = None,
) -> dict[str, Any]:
    """Every flow metric of `board` over `window` (default: the last 90 days).

    `engine` forces "sql" (Postgres only) or "python"; by default Postgres uses SQL.
    `class_of_service` counts only the cards of that class (their current class) in the
    history's figures: lead and cycle time, throughput, flow efficiency, blocked time and the
    CFD; the current WIP and the ageing work stay the board's.
    """
    now = now or timezone.now()
    window = window or default_window(now)
    engine = engine or ("sql" if connection.vendor == "postgresql" else "python")
    compute = _SqlMetrics if engine == "sql" else _PythonMetrics
    result = compute(board, window, now, class_of_service).run()
    result.update(
        board=board.pk,
        window={"from": window.start.isoformat(), "to": window.end.isoformat()},
        engine=engine,
        wip=current_wip(board),
    )
    return result


def current_wip(board: Board) -> list[dict[str, Any]]:
    from django.db.models import Count, Q

    columns = (
        Column.objects.filter(board=board)
        .annotate(n=Count("cards", filter=Q(cards__archived=False)))
        .order_by("position", "id")
    )
    return [
        {
            "column": c.pk,
            "name": c.name,
            "stage": c.stage,
            "wip": c.n,
            "wip_limit": c.wip_limit,
            "wip_policy": c.wip_policy,
        }
        for c in columns
    ]


def _assemble(
    window: Window,
    finished: list[dict[str, Any]],
    cfd: dict[int, list[int]],
    columns: list[Column],
    blocked: dict[str, Any],
    ageing: list[dict[str, Any]],
    lead_stats: dict[str, Any] | None = None,
    cycle_stats: dict[str, Any] | None = None,
    totals: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The shape both engines return. `finished` holds the cards finished in the window (all
    of them from the Python engine; the latest SCATTER_LIMIT from SQL, which passes the
    statistics and `totals` computed over all of them)."""
    throughput = dict.fromkeys(_weeks(window), 0)
    if totals is None:
        leads = [f["lead_days"] for f in finished]
        for f in finished:
            day = datetime.fromisoformat(f["finished_at"]).astimezone(UTC).date()
            throughput[iso_week(day)] += 1
        active, lead_total, count = (
            sum(f["active_days"] for f in finished),
            sum(leads),
            len(finished),
        )
    else:
        leads = []
        for week, n in totals["throughput"].items():
            throughput[week] = n
        active, lead_total, count = totals["active"], totals["lead"], totals["count"]
    cycles = [f["cycle_days"] for f in finished if f["cycle_days"] is not None]
    return {
        "lead_time": lead_stats or _stats(leads),
        "cycle_time": cycle_stats or _stats(cycles),
        "throughput": [{"week": w, "count": n} for w, n in throughput.items()],
        "flow_efficiency": {
            "value": _r(active / lead_total) if lead_total > 0 else None,
            "active_unblocked_days": _r(active),
            "lead_days": _r(lead_total),
            "cards": count,
        },
        "blocked": blocked,
        "cfd": {
            "days": [d.isoformat() for d in window.days()],
            "columns": [
                {
                    "column": c.pk,
                    "name": c.name,
                    "stage": c.stage,
                    "counts": cfd.get(c.pk, [0] * len(window.days())),
                }
                for c in columns
            ],
        },
        "ageing": ageing,
        "finished": sorted(finished, key=lambda f: f["finished_at"])[-SCATTER_LIMIT:],
    }


# --- Postgres: SQL ---------------------------------------------------------------------------

# One pass over the board's history: window aggregates give every move its card's commitment,
# start, finish and last stage, so that no join of a million moves with their cards is needed.
# The result, one row per card finished in the window, goes to a temporary table that the
# statistics and the listing both read.
_FINISHED_SQL = """
CREATE TEMPORARY TABLE metrics_finished ON COMMIT DROP AS
WITH m AS (
    SELECT card_id, at, to_stage,
           LEAD(at) OVER w AS next_at,
           LAST_VALUE(to_stage) OVER whole AS last_stage,
           MIN(at) FILTER (WHERE to_stage <> 'backlog') OVER whole AS commit_at,
           MIN(at) FILTER (WHERE to_stage = 'active') OVER whole AS start_at,
           MAX(at) FILTER (WHERE to_stage = 'done') OVER whole AS done_at
    FROM boards_cardmove
    WHERE board_id = %(board)s /*cards*/
    WINDOW w AS (PARTITION BY card_id ORDER BY at, id),
           whole AS (w ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
),
fm AS (
    SELECT card_id, at, to_stage, next_at, start_at, done_at,
           COALESCE(commit_at, done_at) AS commit_at
    FROM m
    WHERE last_stage = 'done' AND done_at >= %(start)s AND done_at < %(end)s
),
active AS (
    SELECT card_id, GREATEST(at, commit_at) AS s, LEAST(next_at, done_at) AS e
    FROM fm WHERE to_stage = 'active' AND next_at IS NOT NULL
),
blocked AS (
    SELECT a.card_id,
           SUM(GREATEST(EXTRACT(EPOCH FROM LEAST(a.e, COALESCE(b.ended_at, %(now)s))
                                          - GREATEST(a.s, b.started_at)), 0)) AS blocked_s
    FROM active a JOIN boards_block b ON b.card_id = a.card_id
    WHERE b.board_id = %(board)s AND b.started_at < a.e /*cards:b.*/
      AND COALESCE(b.ended_at, %(now)s) > a.s
    GROUP BY a.card_id
),
per_card AS (
    SELECT card_id, MIN(commit_at) AS commit_at, MIN(start_at) AS start_at,
           MIN(done_at) AS finish_at
    FROM fm GROUP BY card_id
),
active_time AS (
    SELECT card_id, SUM(GREATEST(EXTRACT(EPOCH FROM e - s), 0)) AS active_s
    FROM active GROUP BY card_id
)
SELECT p.card_id, p.commit_at, p.start_at, p.finish_at,
       EXTRACT(EPOCH FROM p.finish_at - p.commit_at) / 86400.0 AS lead_days,
       EXTRACT(EPOCH FROM p.finish_at - p.start_at) / 86400.0 AS cycle_days,
       GREATEST(COALESCE(t.active_s, 0) - COALESCE(b.blocked_s, 0), 0) / 86400.0 AS active_days
FROM per_card p
LEFT JOIN active_time t USING (card_id)
LEFT JOIN blocked b USING (card_id)
"""

_STATS_SQL = """
SELECT COUNT(*), AVG(lead_days),
       percentile_cont(ARRAY[0.5, 0.85, 0.95]) WITHIN GROUP (ORDER BY lead_days),
       COUNT(cycle_days), AVG(cycle_days),
       percentile_cont(ARRAY[0.5, 0.85, 0.95]) WITHIN GROUP (ORDER BY cycle_days),
       COALESCE(SUM(active_days), 0), COALESCE(SUM(lead_days), 0)
FROM metrics_finished
"""

_THROUGHPUT_SQL = """
SELECT to_char(finish_at AT TIME ZONE 'UTC', 'IYYY-"W"IW') AS week, COUNT(*)
FROM metrics_finished GROUP BY week
"""

_PER_CARD_SQL = """
SELECT p.card_id, card.title, p.finish_at, p.lead_days, p.cycle_days, p.active_days
FROM (SELECT * FROM metrics_finished ORDER BY finish_at DESC, card_id DESC LIMIT %(limit)s) p
JOIN boards_card card ON card.id = p.card_id
ORDER BY p.finish_at, p.card_id
"""

# Each move is -1 for the column it leaves and +1 for the one it enters, on its day; archiving
# is -1, but for a finished card (archived in a done column, by hand or by the release policy):
# it stays in its Done band, which would otherwise fall each time finished work is cleared.
# Summing those per column and day, then accumulating over days, gives the end-of-day counts
# without pairing a move with the next one.
_CFD_SQL = """
WITH deltas AS (
    SELECT to_column_id AS col, (at AT TIME ZONE 'UTC')::date AS day, COUNT(*) AS d
    FROM boards_cardmove WHERE board_id = %(board)s AND to_column_id IS NOT NULL /*cards*/
    GROUP BY 1, 2
    UNION ALL
    SELECT from_column_id, (at AT TIME ZONE 'UTC')::date, -COUNT(*)
    FROM boards_cardmove WHERE board_id = %(board)s AND from_column_id IS NOT NULL /*cards*/
    GROUP BY 1, 2
    UNION ALL
    SELECT column_id, (archived_at AT TIME ZONE 'UTC')::date, -COUNT(*)
    FROM boards_card WHERE board_id = %(board)s AND archived_at IS NOT NULL
        AND finished_at IS NULL /*class*/
    GROUP BY 1, 2
),
base AS (SELECT col, SUM(d) AS n FROM deltas WHERE day < %(from)s GROUP BY col),
daily AS (
    SELECT col, day, SUM(d) AS n FROM deltas
    WHERE day BETWEEN %(from)s AND %(to)s GROUP BY col, day
),
days AS (SELECT generate_series(%(from)s::date, %(to)s::date, interval '1 day')::date AS day)
SELECT c.id,
       COALESCE(b.n, 0) + SUM(COALESCE(dl.n, 0)) OVER (PARTITION BY c.id ORDER BY days.day)
FROM boards_column c
CROSS JOIN days
LEFT JOIN base b ON b.col = c.id
LEFT JOIN daily dl ON dl.col = c.id AND dl.day = days.day
WHERE c.board_id = %(board)s
ORDER BY c.id, days.day
"""

_BLOCKED_SQL = """
SELECT COALESCE(SUM(GREATEST(EXTRACT(EPOCH FROM
           LEAST(COALESCE(ended_at, %(now)s), %(end)s) - GREATEST(started_at, %(start)s)), 0)),
           0) / 86400.0,
       COUNT(*) FILTER (WHERE started_at >= %(start)s AND started_at < %(end)s),
       COUNT(*) FILTER (WHERE ended_at IS NULL)
FROM boards_block
WHERE board_id = %(board)s AND started_at < %(end)s
  AND COALESCE(ended_at, %(now)s) > %(start)s /*cards*/
"""


def _scoped(sql_text: str, class_of_service: str | None) -> str:
    """The statement for the whole board (the markers dropped: the same text as ever, so its
    plan), or restricted to the cards of one class of service."""
    cards = (
        "card_id IN (SELECT id FROM boards_card"
        " WHERE board_id = %(board)s AND class_of_service = %(cos)s)"
    )
    if class_of_service is None:
        return (
            sql_text.replace(" /*cards*/", "")
            .replace(" /*cards:b.*/", "")
            .replace(" /*class*/", "")
        )
    return (
        sql_text.replace("/*cards*/", f"AND {cards}")
        .replace("/*cards:b.*/", f"AND b.{cards}")
        .replace("/*class*/", "AND class_of_service = %(cos)s")
    )


class _SqlMetrics:
    def __init__(
        self, board: Board, window: Window, now: datetime, class_of_service: str | None = None
    ) -> None:
        self.board, self.window, self.now = board, window, now
        self.class_of_service = class_of_service
        self.params: dict[str, Any] = {
            "cos": class_of_service,
            "board": board.pk,
            "start": window.start_at,
            "end": window.end_at,
            "from": window.start,
            "to": window.end,
            "now": now,
            "limit": SCATTER_LIMIT,
        }

    def run(self) -> dict[str, Any]:
        with transaction.atomic(), connection.cursor() as cursor:
            # The planner cannot estimate row counts out of CTEs of aggregates (it guesses one)
            # and may pick nested loops over a million history rows: minutes, not a second.
            # Hash joins are right for every statement here; JIT costs more than it saves.
            cursor.execute("SET LOCAL enable_nestloop = off")
            cursor.execute("SET LOCAL jit = off")
            # Sorting a million moves by card and time in memory, not in temporary files.
            cursor.execute("SET LOCAL work_mem = '64MB'")

            def rows(sql: str) -> list[tuple]:
                cursor.execute(_scoped(sql, self.class_of_service), self.params)
                return cursor.fetchall()

            # ON COMMIT DROP does not fire inside an outer transaction (a savepoint here).
            cursor.execute("DROP TABLE IF EXISTS metrics_finished")
            cursor.execute(_scoped(_FINISHED_SQL, self.class_of_service), self.params)
            ((n, lead_mean, lead_p, n_cycle, cycle_mean, cycle_p, active, lead_total),) = rows(
                _STATS_SQL
            )
            throughput = dict(rows(_THROUGHPUT_SQL))
            finished = [
                {
                    "card": card_id,
                    "title": title,
                    "finished_at": finish.isoformat(),
                    "lead_days": _r(float(lead)),
                    "cycle_days": _r(float(cycle)) if cycle is not None else None,
                    "active_days": float(active_days),
                }
                for card_id, title, finish, lead, cycle, active_days in rows(_PER_CARD_SQL)
            ]
            cfd: dict[int, list[int]] = defaultdict(list)
            for column_id, count in rows(_CFD_SQL):
                cfd[column_id].append(int(count))
            ((blocked_days, blocks, open_blocks),) = rows(_BLOCKED_SQL)
        columns = list(Column.objects.filter(board=self.board).order_by("position", "id"))
        blocked = {
            "blocked_days": _r(float(blocked_days)),
            "blocks_started": blocks,
            "currently_blocked": open_blocks,
        }
        lead_stats = {
            "count": n,
            "mean": _r(_f(lead_mean)),
            **dict(zip(("p50", "p85", "p95"), _ps(lead_p), strict=True)),
        }
        cycle_stats = {
            "count": n_cycle,
            "mean": _r(_f(cycle_mean)),
            **dict(zip(("p50", "p85", "p95"), _ps(cycle_p), strict=True)),
        }
        totals = {
            "active": float(active),
            "lead": float(lead_total),
            "count": n,
            "throughput": throughput,
        }
        return _assemble(
            self.window,
            finished,
            cfd,
            columns,
            blocked,
            ageing_work(self.board, self.now),
            lead_stats,
            cycle_stats,
            totals,
        )


def _f(value) -> float | None:
    return None if value is None else float(value)


def _ps(values) -> list[float | None]:
    return [_r(float(v)) for v in values] if values else [None, None, None]


# --- SQLite (and a cross-check): Python over the same rows -----------------------------------


class _PythonMetrics:
    def __init__(
        self, board: Board, window: Window, now: datetime, class_of_service: str | None = None
    ) -> None:
        self.board, self.window, self.now = board, window, now
        self.class_of_service = class_of_service

    def run(self) -> dict[str, Any]:
        # The class's cards, as the SQL's `card_id IN (...)` (no filter: the whole board).
        scope = (
            {}
            if self.class_of_service is None
            else {"card__class_of_service": self.class_of_service}
        )
        moves: dict[int, list[tuple[datetime, str, int | None]]] = defaultdict(list)
        for card_id, at, stage, column_id in (
            CardMove.objects.filter(board=self.board, **scope)
            .order_by("card_id", "at", "id")
            .values_list("card_id", "at", "to_stage", "to_column_id")
        ):
            moves[card_id].append((at, stage, column_id))
        blocks: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
        for card_id, started, ended in Block.objects.filter(board=self.board, **scope).values_list(
            "card_id", "started_at", "ended_at"
        ):
            blocks[card_id].append((started, ended or self.now))
        cards = dict(Card.objects.filter(board=self.board).values_list("id", "title"))
        archived = dict(
            Card.objects.filter(
                board=self.board, archived_at__isnull=False, finished_at__isnull=True
            )
            .filter(**{k.removeprefix("card__"): v for k, v in scope.items()})
            .values_list("id", "archived_at")
        )

        finished = []
        for card_id, history in moves.items():
            row = self._finished(card_id, history, blocks.get(card_id, []))
            if row is not None:
                row["title"] = cards.get(card_id, "")
                finished.append(row)
        columns = list(Column.objects.filter(board=self.board).order_by("position", "id"))
        blocked = self._blocked(blocks)
        return _assemble(
            self.window,
            finished,
            self._cfd(moves, archived),
            columns,
            blocked,
            ageing_work(self.board, self.now),
        )

    def _finished(self, card_id, history, blocks) -> dict[str, Any] | None:
        if history[-1][1] != Stage.DONE:
            return None
        finish = max(at for at, stage, _ in history if stage == Stage.DONE)
        if not (self.window.start_at <= finish < self.window.end_at):
            return None
        commit = next((at for at, stage, _ in history if stage != Stage.BACKLOG), finish)
        start = next((at for at, stage, _ in history if stage == Stage.ACTIVE), None)
        active = active_seconds([(at, stage) for at, stage, _ in history], blocks, commit, finish)
        return {
            "card": card_id,
            "finished_at": finish.isoformat(),
            "lead_days": _r((finish - commit).total_seconds() / DAY),
            "cycle_days": _r((finish - start).total_seconds() / DAY) if start else None,
            "active_days": active / DAY,
        }

    def _cfd(self, moves, archived) -> dict[int, list[int]]:
        days = self.window.days()
        index = {d: i for i, d in enumerate(days)}
        deltas: dict[int, list[int]] = defaultdict(lambda: [0] * len(days))
        base: dict[int, int] = defaultdict(int)

        def add(column_id: int, at: datetime, d: int) -> None:
            day = at.astimezone(UTC).date()
            if day < self.window.start:
                base[column_id] += d
            elif day in index:
                deltas[column_id][index[day]] += d

        for card_id, history in moves.items():
            for i, (at, _, column_id) in enumerate(history):
                if column_id is None:
                    continue
                add(column_id, at, 1)
                end = history[i + 1][0] if i + 1 < len(history) else archived.get(card_id)
                if end is not None:
                    add(column_id, end, -1)
        result = {}
        for column_id in set(base) | set(deltas):
            running, counts = base[column_id], []
            for d in deltas[column_id] if column_id in deltas else [0] * len(days):
                running += d
                counts.append(running)
            result[column_id] = counts
        return result

    def _blocked(self, blocks) -> dict[str, Any]:
        total, started = 0.0, 0
        for card_id in blocks:
            for b_start, b_end in blocks[card_id]:
                overlap = min(b_end, self.window.end_at) - max(b_start, self.window.start_at)
                total += max(overlap.total_seconds(), 0)
                if self.window.start_at <= b_start < self.window.end_at:
                    started += 1
        open_blocks = Block.objects.filter(board=self.board, ended_at__isnull=True)
        if self.class_of_service is not None:
            open_blocks = open_blocks.filter(card__class_of_service=self.class_of_service)
        # Blocks that ended before the window or start after it contribute no time (clipped).
        return {
            "blocked_days": _r(total / DAY),
            "blocks_started": started,
            "currently_blocked": open_blocks.count(),
        }


def active_seconds(
    history: list[tuple[datetime, str]],
    blocks: list[tuple[datetime, datetime]],
    commit: datetime,
    finish: datetime,
) -> float:
    """Seconds in active columns while not blocked, between commitment and finish.

    `history` is the card's moves (at, to_stage) in order; `blocks` its (start, end) periods,
    an open one ending at any time after `finish`."""
    total = 0.0
    for i, (at, stage) in enumerate(history[:-1]):
        if stage != Stage.ACTIVE:
            continue
        s, e = max(at, commit), min(history[i + 1][0], finish)
        if e <= s:
            continue
        total += (e - s).total_seconds()
        for b_start, b_end in blocks:
            total -= max((min(e, b_end) - max(s, b_start)).total_seconds(), 0)
    return max(total, 0.0)


# A card's history and blocks in one round trip (plain SQL: every move into done reads it).
_CARD_FLOW_SQL = f"""
    SELECT 'move', at, to_stage, NULL, id FROM {CardMove._meta.db_table}
    WHERE card_id = %(card)s AND at <= %(finish)s
    UNION ALL
    SELECT 'block', started_at, NULL, ended_at, id FROM {Block._meta.db_table}
    WHERE card_id = %(card)s
"""


def card_flow_statement(card: Card) -> tuple[str, dict[str, Any]]:
    """The read of a finished card's moves (up to its finish) and blocks, for
    active_seconds_of (a move into done reads it before its write, and adds itself)."""
    assert card.finished_at is not None
    finish = sql.prepare(CardMove, "at", card.finished_at)  # as stored (UTC text on SQLite)
    return _CARD_FLOW_SQL, {"card": card.pk, "finish": finish}


def active_seconds_of(card: Card, rows: Iterable[Sequence[Any]]) -> float:
    """A finished card's unblocked active time, from the rows of its card_flow_statement."""
    assert card.finished_at is not None
    history, blocks = [], []
    for kind, start, stage, end, row_id in rows:
        (start,) = sql.convert(CardMove, ("at",), (start,))
        if kind == "move":
            history.append((start, row_id, stage))
        else:
            (end,) = sql.convert(Block, ("ended_at",), (end,))
            blocks.append((start, end or card.finished_at))
    history.sort()
    commit = card.committed_at or card.finished_at
    return active_seconds(
        [(at, stage) for at, _, stage in history], blocks, commit, card.finished_at
    )


def card_active_seconds(card: Card) -> float | None:
    """A finished card's unblocked active time, from its history (None when not finished)."""
    if card.finished_at is None:
        return None
    return active_seconds_of(card, sql.fetch_all(*card_flow_statement(card)))


# --- ageing work in progress (the same on both engines) --------------------------------------


def ageing_work(board: Board, now: datetime) -> list[dict[str, Any]]:
    """Live committed, unfinished cards (wait and active columns), oldest first."""
    rows = (
        Card.objects.filter(
            board=board, archived=False, column__stage__in=[Stage.WAIT, Stage.ACTIVE]
        )
        .order_by("committed_at", "id")
        .values(
            "id",
            "title",
            "column_id",
            "column__name",
            "column__stage",
            "committed_at",
            "created_at",
            "blocked",
        )[:AGEING_LIMIT]
    )
    return [
        {
            "card": r["id"],
            "title": r["title"],
            "column": r["column_id"],
            "column_name": r["column__name"],
            "stage": r["column__stage"],
            "age_days": _r(
                ((now - (r["committed_at"] or r["created_at"])).total_seconds()) / DAY, 2
            ),
            "blocked": r["blocked"],
        }
        for r in rows
    ]


# --- snapshots -------------------------------------------------------------------------------


def _announce_after_commit(board_id: int, computed_at: datetime) -> None:
    """Tell the board's viewers, once the new snapshot is committed, that they may fetch it."""
    from boards.live.events import board_group
    from kanban.publisher import send_to_group

    payload = {"type": "metrics.updated", "board": board_id, "computed_at": computed_at.isoformat()}
    transaction.on_commit(lambda: send_to_group(board_group(board_id), payload))


def stored_or_computed(board: Board, window: Window | None = None) -> MetricsSnapshot:
    """The board's stored metrics for `window` (None: the rolling default), computed and stored
    now when there are none yet: what the metrics page and endpoint serve."""
    snapshots = MetricsSnapshot.objects.filter(board=board)
    if window is None:
        snapshot = snapshots.filter(is_default=True).first()
    else:
        snapshot = snapshots.filter(
            window_from=window.start, window_to=window.end, is_default=False
        ).first()
    snapshot = snapshot or refresh_snapshot(board.pk, window)
    if snapshot is None:  # the board was deleted since the caller read it
        raise NotFound("Board not found.")
    return snapshot


def refresh_snapshot(board_id: int, window: Window | None = None) -> MetricsSnapshot | None:
    """Compute a board's metrics and store them as its snapshot for `window` (default: the
    rolling 90 days, the one the background task keeps fresh). Idempotent: a rerun replaces the
    snapshot. Announces the new snapshot to the board's viewers after commit."""
    import time as monotonic_time

    board = Board.objects.filter(pk=board_id).first()
    if board is None:
        return None
    is_default = window is None
    now = timezone.now()
    window = window or default_window(now)
    started = monotonic_time.perf_counter()
    data = compute_board_metrics(board, window, now=now)
    duration_ms = int((monotonic_time.perf_counter() - started) * 1000)
    data["computed_at"] = now.isoformat()
    with transaction.atomic():
        if not sql.hold(Board, board_id):
            return None  # deleted meanwhile
        snapshot, _ = MetricsSnapshot.objects.update_or_create(
            board=board,
            window_from=window.start,
            window_to=window.end,
            is_default=is_default,
            defaults={"computed_at": now, "data": data, "duration_ms": duration_ms},
        )
        if is_default:
            # The rolling window moves with the days: yesterday's default is history.
            MetricsSnapshot.objects.filter(board=board, is_default=True).exclude(
                pk=snapshot.pk
            ).delete()
        _announce_after_commit(board_id, now)
    return snapshot


_CARD_STATS_SQL = """
SELECT COUNT(*), AVG(lead_days),
       percentile_cont(ARRAY[0.5, 0.85, 0.95]) WITHIN GROUP (ORDER BY lead_days),
       COUNT(cycle_days), AVG(cycle_days),
       percentile_cont(ARRAY[0.5, 0.85, 0.95]) WITHIN GROUP (ORDER BY cycle_days),
       COALESCE(SUM(active_s), 0) / 86400.0, COALESCE(SUM(lead_days), 0)
FROM (
    SELECT EXTRACT(EPOCH FROM finished_at - COALESCE(committed_at, finished_at)) / 86400.0
               AS lead_days,
           EXTRACT(EPOCH FROM finished_at - started_at) / 86400.0 AS cycle_days,
           flow_active_seconds AS active_s
    FROM boards_card
    WHERE board_id = %(board)s AND finished_at >= %(start)s AND finished_at < %(end)s
) f
"""

_CARD_THROUGHPUT_SQL = """
SELECT to_char(finished_at AT TIME ZONE 'UTC', 'IYYY-"W"IW') AS week, COUNT(*)
FROM boards_card
WHERE board_id = %(board)s AND finished_at >= %(start)s AND finished_at < %(end)s
GROUP BY week
"""


def refresh_after_change(board_id: int) -> MetricsSnapshot | None:
    """The refresh the task runs after a change, without re-reading the history.

    A change made now alters only the present: today's point of the cumulative flow, the
    current WIP and ageing work, and the figures of finished cards, which the services keep on
    the cards themselves (commitment, start and finish times, unblocked active time, all taken
    from the history as it was written). Everything before today is the stored snapshot's.
    Without a snapshot for today's window, or off Postgres, it falls back to the full recompute
    (which the hourly task runs anyway).
    """
    now = timezone.now()
    window = default_window(now)
    snapshot = MetricsSnapshot.objects.filter(board_id=board_id, is_default=True).first()
    if (
        snapshot is None
        or connection.vendor != "postgresql"
        or (snapshot.window_from, snapshot.window_to) != (window.start, window.end)
    ):
        return refresh_snapshot(board_id)
    board = Board.objects.filter(pk=board_id).first()
    if board is None:
        return None  # deleted since the refresh was queued
    params: dict[str, Any] = {
        "board": board_id,
        "start": window.start_at,
        "end": window.end_at,
        "now": now,
        "limit": SCATTER_LIMIT,
    }
    started = timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_CARD_STATS_SQL, params)
        ((n, lead_mean, lead_p, n_cycle, cycle_mean, cycle_p, active, lead_total),) = (
            cursor.fetchall()
        )
        cursor.execute(_CARD_THROUGHPUT_SQL, params)
        throughput = dict(cursor.fetchall())
        cursor.execute(_BLOCKED_SQL, params)
        ((blocked_days, blocks, open_blocks),) = cursor.fetchall()
    finished = [
        {
            "card": c["id"],
            "title": c["title"],
            # finished_at__gte/__lt above: never NULL here
            "finished_at": c["finished_at"].isoformat(),  # type: ignore[union-attr]
            "lead_days": _r(
                (c["finished_at"] - (c["committed_at"] or c["finished_at"])).total_seconds() / DAY  # type: ignore[operator]
            ),
            "cycle_days": _r((c["finished_at"] - c["started_at"]).total_seconds() / DAY)  # type: ignore[operator]
            if c["started_at"]
            else None,
            "active_days": (c["flow_active_seconds"] or 0) / DAY,
        }
        for c in reversed(
            Card.objects.filter(
                board_id=board_id, finished_at__gte=window.start_at, finished_at__lt=window.end_at
            )
            .order_by("-finished_at", "-id")
            .values(
                "id", "title", "finished_at", "committed_at", "started_at", "flow_active_seconds"
            )[:SCATTER_LIMIT]
        )
    ]
    wip = current_wip(board)
    data = dict(snapshot.data)
    data["lead_time"] = {
        "count": n,
        "mean": _r(_f(lead_mean)),
        **dict(zip(("p50", "p85", "p95"), _ps(lead_p), strict=True)),
    }
    data["cycle_time"] = {
        "count": n_cycle,
        "mean": _r(_f(cycle_mean)),
        **dict(zip(("p50", "p85", "p95"), _ps(cycle_p), strict=True)),
    }
    data["throughput"] = [{"week": w, "count": throughput.get(w, 0)} for w in _weeks(window)]
    data["flow_efficiency"] = {
        "value": _r(float(active) / float(lead_total)) if lead_total else None,
        "active_unblocked_days": _r(float(active)),
        "lead_days": _r(float(lead_total)),
        "cards": n,
    }
    data["blocked"] = {
        "blocked_days": _r(float(blocked_days)),
        "blocks_started": blocks,
        "currently_blocked": open_blocks,
    }
    today = {c["column"]: c["wip"] for c in wip}
    data["cfd"] = {
        **data["cfd"],
        "columns": [
            {**column, "counts": [*column["counts"][:-1], today.get(column["column"], 0)]}
            for column in data["cfd"]["columns"]
            if column["column"] in today
        ],
    }
    data["wip"] = wip
    data["ageing"] = ageing_work(board, now)
    data["finished"] = finished
    data["computed_at"] = now.isoformat()
    data["refresh"] = "incremental"
    with transaction.atomic():
        if not sql.hold(Board, board_id):
            return None  # deleted meanwhile (and its snapshot with it)
        snapshot.data = data
        snapshot.computed_at = now
        snapshot.duration_ms = int((timezone.now() - started).total_seconds() * 1000)
        snapshot.save(update_fields=["data", "computed_at", "duration_ms"])
        _announce_after_commit(board_id, now)
    return snapshot


_BACKFILL_SQL = """
WITH m AS (
    SELECT card_id, at, to_stage,
           LAST_VALUE(to_stage) OVER whole AS last_stage,
           MIN(at) FILTER (WHERE to_stage <> 'backlog') OVER whole AS commit_at,
           MIN(at) FILTER (WHERE to_stage = 'active') OVER whole AS start_at,
           MAX(at) FILTER (WHERE to_stage = 'done') OVER whole AS done_at
    FROM boards_cardmove WHERE board_id = %(board)s
    WINDOW whole AS (PARTITION BY card_id ORDER BY at, id
                     ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
),
per_card AS (
    SELECT card_id, MIN(commit_at) AS commit_at, MIN(start_at) AS start_at,
           MIN(CASE WHEN last_stage = 'done' THEN done_at END) AS finish_at
    FROM m GROUP BY card_id
)
UPDATE boards_card c
SET committed_at = p.commit_at, started_at = p.start_at, finished_at = p.finish_at
FROM per_card p WHERE c.id = p.card_id
"""


def backfill_flow_fields(board: Board) -> None:
    """Set the cards' flow fields from the history (for data written around the services, such
    as a bulk import): commitment, start, finish and, for finished cards, unblocked active time
    (through the full recompute's temporary table)."""
    from django.db import transaction

    window = Window(date(1970, 1, 1), timezone.now().date() + timedelta(days=1))
    params: dict[str, Any] = {
        "board": board.pk,
        "start": window.start_at,
        "end": window.end_at,
        "now": timezone.now(),
    }
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_nestloop = off")
        cursor.execute("SET LOCAL work_mem = '64MB'")
        cursor.execute(_BACKFILL_SQL, params)
        cursor.execute("DROP TABLE IF EXISTS metrics_finished")
        cursor.execute(_FINISHED_SQL, params)
        cursor.execute(
            "UPDATE boards_card c SET flow_active_seconds = f.active_days * 86400.0 "
            "FROM metrics_finished f WHERE c.id = f.card_id"
        )
