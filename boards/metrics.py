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
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.db import connection
from django.utils import timezone

from boards.models import Block, Board, Card, CardMove, Column, MetricsSnapshot, Stage

DAY = 86_400.0
PERCENTILES = (0.5, 0.85, 0.95)
SCATTER_LIMIT = 2_000
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
) -> dict[str, Any]:
    """Every flow metric of `board` over `window` (default: the last 90 days).

    `engine` forces "sql" (Postgres only) or "python"; by default Postgres uses SQL.
    """
    now = now or timezone.now()
    window = window or default_window(now)
    engine = engine or ("sql" if connection.vendor == "postgresql" else "python")
    compute = _SqlMetrics if engine == "sql" else _PythonMetrics
    result = compute(board, window, now).run()
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
) -> dict[str, Any]:
    """The shape both engines return. `finished` holds the cards finished in the window."""
    leads = [f["lead_days"] for f in finished]
    cycles = [f["cycle_days"] for f in finished if f["cycle_days"] is not None]
    throughput = dict.fromkeys(_weeks(window), 0)
    for f in finished:
        throughput[iso_week(datetime.fromisoformat(f["finished_at"]).astimezone(UTC).date())] += 1
    active = sum(f["active_days"] for f in finished)
    lead_total = sum(leads)
    return {
        "lead_time": lead_stats or _stats(leads),
        "cycle_time": cycle_stats or _stats(cycles),
        "throughput": [{"week": w, "count": n} for w, n in throughput.items()],
        "flow_efficiency": {
            "value": _r(active / lead_total) if lead_total > 0 else None,
            "active_unblocked_days": _r(active),
            "lead_days": _r(lead_total),
            "cards": len(finished),
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

_FLOW_CTE = """
WITH m AS (
    SELECT card_id, at, to_stage,
           LEAD(at) OVER (PARTITION BY card_id ORDER BY at, id) AS next_at,
           ROW_NUMBER() OVER (PARTITION BY card_id ORDER BY at DESC, id DESC) AS newest
    FROM boards_cardmove
    WHERE board_id = %(board)s
),
c AS (
    SELECT card_id,
           MIN(at) FILTER (WHERE to_stage <> 'backlog') AS commit_at,
           MIN(at) FILTER (WHERE to_stage = 'active') AS start_at,
           MAX(at) FILTER (WHERE to_stage = 'done') AS done_at,
           BOOL_OR(newest = 1 AND to_stage = 'done') AS finished
    FROM m GROUP BY card_id
),
f AS (
    SELECT card_id, COALESCE(commit_at, done_at) AS commit_at, start_at, done_at AS finish_at
    FROM c
    WHERE finished AND done_at >= %(start)s AND done_at < %(end)s
),
active AS (
    SELECT m.card_id, GREATEST(m.at, f.commit_at) AS s, LEAST(m.next_at, f.finish_at) AS e
    FROM m JOIN f USING (card_id)
    WHERE m.to_stage = 'active' AND m.next_at IS NOT NULL
),
active_time AS (
    SELECT a.card_id,
           SUM(GREATEST(EXTRACT(EPOCH FROM a.e - a.s), 0)) AS active_s,
           SUM(COALESCE((
               SELECT SUM(GREATEST(EXTRACT(EPOCH FROM
                          LEAST(a.e, COALESCE(b.ended_at, %(now)s)) - GREATEST(a.s, b.started_at)),
                          0))
               FROM boards_block b
               WHERE b.card_id = a.card_id AND b.started_at < a.e
                 AND COALESCE(b.ended_at, %(now)s) > a.s
           ), 0)) AS blocked_s
    FROM active a WHERE a.e > a.s
    GROUP BY a.card_id
),
per_card AS (
    SELECT f.card_id, f.commit_at, f.start_at, f.finish_at,
           EXTRACT(EPOCH FROM f.finish_at - f.commit_at) / 86400.0 AS lead_days,
           EXTRACT(EPOCH FROM f.finish_at - f.start_at) / 86400.0 AS cycle_days,
           GREATEST(COALESCE(t.active_s, 0) - COALESCE(t.blocked_s, 0), 0) / 86400.0
               AS active_days
    FROM f LEFT JOIN active_time t USING (card_id)
)
"""

_STATS_SQL = (
    _FLOW_CTE
    + """
SELECT COUNT(*), AVG(lead_days),
       percentile_cont(ARRAY[0.5, 0.85, 0.95]) WITHIN GROUP (ORDER BY lead_days),
       COUNT(cycle_days), AVG(cycle_days),
       percentile_cont(ARRAY[0.5, 0.85, 0.95]) WITHIN GROUP (ORDER BY cycle_days)
FROM per_card
"""
)

_PER_CARD_SQL = (
    _FLOW_CTE
    + """
SELECT p.card_id, card.title, p.finish_at, p.lead_days, p.cycle_days, p.active_days
FROM per_card p JOIN boards_card card ON card.id = p.card_id
ORDER BY p.finish_at
"""
)

_CFD_SQL = """
WITH m AS (
    SELECT cm.to_column_id AS col, cm.at,
           COALESCE(LEAD(cm.at) OVER (PARTITION BY cm.card_id ORDER BY cm.at, cm.id),
                    card.archived_at) AS next_at
    FROM boards_cardmove cm JOIN boards_card card ON card.id = cm.card_id
    WHERE cm.board_id = %(board)s AND cm.to_column_id IS NOT NULL
),
deltas AS (
    SELECT col, (at AT TIME ZONE 'UTC')::date AS day, 1 AS d FROM m
    UNION ALL
    SELECT col, (next_at AT TIME ZONE 'UTC')::date, -1 FROM m WHERE next_at IS NOT NULL
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
  AND COALESCE(ended_at, %(now)s) > %(start)s
"""


class _SqlMetrics:
    def __init__(self, board: Board, window: Window, now: datetime) -> None:
        self.board, self.window, self.now = board, window, now
        self.params = {
            "board": board.pk,
            "start": window.start_at,
            "end": window.end_at,
            "from": window.start,
            "to": window.end,
            "now": now,
        }

    def _rows(self, sql: str) -> list[tuple]:
        with connection.cursor() as cursor:
            cursor.execute(sql, self.params)
            return cursor.fetchall()

    def run(self) -> dict[str, Any]:
        ((n, lead_mean, lead_p, n_cycle, cycle_mean, cycle_p),) = self._rows(_STATS_SQL)
        finished = [
            {
                "card": card_id,
                "title": title,
                "finished_at": finish.isoformat(),
                "lead_days": _r(float(lead)),
                "cycle_days": _r(float(cycle)) if cycle is not None else None,
                "active_days": float(active),
            }
            for card_id, title, finish, lead, cycle, active in self._rows(_PER_CARD_SQL)
        ]
        columns = list(Column.objects.filter(board=self.board).order_by("position", "id"))
        cfd: dict[int, list[int]] = defaultdict(list)
        for column_id, count in self._rows(_CFD_SQL):
            cfd[column_id].append(int(count))
        ((blocked_days, blocks, open_blocks),) = self._rows(_BLOCKED_SQL)
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
        return _assemble(
            self.window,
            finished,
            cfd,
            columns,
            blocked,
            ageing_work(self.board, self.now),
            lead_stats,
            cycle_stats,
        )


def _f(value) -> float | None:
    return None if value is None else float(value)


def _ps(values) -> list[float | None]:
    return [_r(float(v)) for v in values] if values else [None, None, None]


# --- SQLite (and a cross-check): Python over the same rows -----------------------------------


class _PythonMetrics:
    def __init__(self, board: Board, window: Window, now: datetime) -> None:
        self.board, self.window, self.now = board, window, now

    def run(self) -> dict[str, Any]:
        moves: dict[int, list[tuple[datetime, str, int | None]]] = defaultdict(list)
        for card_id, at, stage, column_id in (
            CardMove.objects.filter(board=self.board)
            .order_by("card_id", "at", "id")
            .values_list("card_id", "at", "to_stage", "to_column_id")
        ):
            moves[card_id].append((at, stage, column_id))
        blocks: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
        for card_id, started, ended in Block.objects.filter(board=self.board).values_list(
            "card_id", "started_at", "ended_at"
        ):
            blocks[card_id].append((started, ended or self.now))
        cards = dict(Card.objects.filter(board=self.board).values_list("id", "title"))
        archived = dict(
            Card.objects.filter(board=self.board, archived_at__isnull=False).values_list(
                "id", "archived_at"
            )
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
        active = 0.0
        for i, (at, stage, _) in enumerate(history[:-1]):
            if stage != Stage.ACTIVE:
                continue
            s, e = max(at, commit), min(history[i + 1][0], finish)
            if e <= s:
                continue
            active += (e - s).total_seconds()
            for b_start, b_end in blocks:
                overlap = (min(e, b_end) - max(s, b_start)).total_seconds()
                active -= max(overlap, 0)
        return {
            "card": card_id,
            "finished_at": finish.isoformat(),
            "lead_days": _r((finish - commit).total_seconds() / DAY),
            "cycle_days": _r((finish - start).total_seconds() / DAY) if start else None,
            "active_days": max(active, 0) / DAY,
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
        total, started, still_open = 0.0, 0, 0
        for card_id in blocks:
            for b_start, b_end in blocks[card_id]:
                overlap = min(b_end, self.window.end_at) - max(b_start, self.window.start_at)
                total += max(overlap.total_seconds(), 0)
                if self.window.start_at <= b_start < self.window.end_at:
                    started += 1
        still_open = Block.objects.filter(board=self.board, ended_at__isnull=True).count()
        # Blocks that ended before the window or start after it contribute no time (clipped).
        return {
            "blocked_days": _r(total / DAY),
            "blocks_started": started,
            "currently_blocked": still_open,
        }


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


def cycle_time_p85(board: Board, *, now: datetime | None = None, days: int = 90) -> float | None:
    """The board's 85th-percentile cycle time (days) over recent finished cards."""
    metrics = compute_board_metrics(board, default_window(now, days), now=now)
    return metrics["cycle_time"]["p85"]


# --- snapshots -------------------------------------------------------------------------------


def refresh_snapshot(board_id: int, window: Window | None = None) -> MetricsSnapshot | None:
    """Compute a board's metrics and store them as its snapshot for `window` (default: the
    rolling 90 days, the one the background task keeps fresh). Idempotent: a rerun replaces the
    snapshot. Announces the new snapshot to the board's viewers after commit."""
    import time as monotonic_time

    from django.db import transaction

    from boards.events import board_group
    from boards.publisher import send_to_group

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
        payload = {"type": "metrics.updated", "board": board_id, "computed_at": now.isoformat()}
        transaction.on_commit(lambda: send_to_group(board_group(board_id), payload))
    return snapshot
