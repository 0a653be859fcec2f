"""The organisation overview: one row per board, for managers who look at the whole wall.

Every figure comes from a GROUP BY over the organisation's boards or from the stored metrics
snapshots (only the few keys needed, extracted in SQL), so that the overview costs the same
seven queries for three boards or three hundred:

    boards and teams; WIP per in-progress column; open blocks; open alerts; the default
    snapshots' lead time p85, flow efficiency and computed_at; lead time p85 of the last four
    weeks and of the four before, with the last 28 days' throughput; finished cards per week.

The trend and the sparkline are read from the cards' own flow fields (committed_at,
finished_at), which the services keep; the 90-day figures (lead_p85, flow_efficiency) are the
snapshot's, exactly what GET /api/v1/boards/{id}/metrics/ answers.
"""

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any, TypedDict

from django.db import connection
from django.db.models import Count, FloatField, Min, OuterRef, Subquery
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Coalesce, TruncWeek
from django.utils import timezone

from accounts.models import Organization
from boards.flow.metrics import DAY, iso_week, percentile
from boards.models import Alert, Block, Board, Card, CardWait, Column, MetricsSnapshot, Stage
from kanban.exceptions import InvalidInput

# The columns whose cards are work in progress (committed, not finished).
IN_PROGRESS = (Stage.WAIT, Stage.ACTIVE)
# "Recent" lead time and throughput: the last four weeks, compared with the four before.
RECENT = timedelta(days=28)
# A change of lead time p85 within this fraction of the previous value is "flat".
TREND_TOLERANCE = 0.10
SPARKLINE_WEEKS = 8
LEAD_PERCENTILE = 0.85

# Every key of a row, in the order a table shows them; each is a valid `sort`.
OVERVIEW_KEYS = (
    "board",
    "board_name",
    "team",
    "team_name",
    "wip",
    "wip_limit",
    "columns_at_limit",
    "columns_over_limit",
    "blocked",
    "oldest_block_days",
    "open_alerts",
    "lead_p85",
    "lead_p85_previous",
    "lead_p85_recent",
    "lead_trend",
    "throughput_4w",
    "throughput_weeks",
    "flow_efficiency",
    "computed_at",
)


def overview_weeks(now: datetime | None = None) -> list[str]:
    """The ISO weeks of `throughput_weeks`, oldest first; the last is the current week."""
    monday = _week_start(now or timezone.now())
    return [iso_week((monday - timedelta(weeks=i)).date()) for i in range(SPARKLINE_WEEKS)][::-1]


def org_overview(organization: Organization, *, now: datetime | None = None) -> list[dict]:
    """One dict per board of `organization` (keys: OVERVIEW_KEYS), ordered by team then board
    name. Seven queries whatever the number of boards; no per-board query."""
    now = now or timezone.now()
    boards = list(
        Board.objects.filter(organization=organization)
        .order_by("team__name", "name", "id")
        .values_list("id", "name", "team_id", "team__name")
    )
    if not boards:
        return []
    # The other queries name the boards by id rather than join them by organisation: with the
    # ids the planner reads each board's cards by index, however the organisation's share of
    # all cards compares with its share of all boards.
    ids = [board_id for board_id, *_ in boards]
    wip = _wip(ids)
    blocks = _open_blocks(ids)
    alerts = _open_alerts(ids)
    snapshots = _snapshots(ids)
    leads = _recent_lead_times(ids, now)
    weeks = _weekly_throughput(ids, now)

    rows = []
    for board_id, name, team_id, team_name in boards:
        w = wip.get(board_id, _Wip())
        n_blocked, oldest = blocks.get(board_id, (0, None))
        lead_p85, efficiency, computed_at = snapshots.get(board_id, (None, None, None))
        recent, previous, throughput_4w = leads.get(board_id, (None, None, 0))
        rows.append(
            {
                "board": board_id,
                "board_name": name,
                "team": team_id,
                "team_name": team_name,
                "wip": w.wip,
                "wip_limit": w.limit,
                "columns_at_limit": w.at_limit,
                "columns_over_limit": w.over_limit,
                "blocked": n_blocked,
                "oldest_block_days": (
                    None
                    if oldest is None
                    else round(max((now - oldest).total_seconds(), 0) / DAY, 2)
                ),
                "open_alerts": alerts.get(board_id, 0),
                "lead_p85": lead_p85,
                "lead_p85_previous": previous,
                "lead_p85_recent": recent,
                "lead_trend": lead_trend(recent, previous),
                "throughput_4w": throughput_4w,
                "throughput_weeks": weeks.get(board_id, [0] * SPARKLINE_WEEKS),
                "flow_efficiency": efficiency,
                "computed_at": computed_at.isoformat() if computed_at else None,
            }
        )
    return rows


def lead_trend(recent: float | None, previous: float | None) -> str | None:
    """ "up" when lead time p85 grew (worse), "down" when it shrank, "flat" within
    TREND_TOLERANCE; None without finished cards in both periods."""
    if recent is None or previous is None:
        return None
    if previous == 0:
        return "flat" if recent == 0 else "up"
    change = (recent - previous) / previous
    if change > TREND_TOLERANCE:
        return "up"
    if change < -TREND_TOLERANCE:
        return "down"
    return "flat"


def sort_overview(rows: list[dict], sort: str) -> list[dict]:
    """`rows` ordered by `sort` (a key of OVERVIEW_KEYS, `-` prefix for descending). Empty
    figures (None) come last either way; ties keep the default order. Text sorts without case;
    the sparkline sorts by its total."""
    key = sort[1:] if sort.startswith("-") else sort
    if key not in OVERVIEW_KEYS:
        raise InvalidInput(
            f"Cannot sort by {sort!r}.",
            fields={"sort": [f"One of {', '.join(OVERVIEW_KEYS)}, optionally prefixed by -."]},
        )

    def value(row: dict) -> Any:
        v = row[key]
        if isinstance(v, str):
            return v.casefold()
        if isinstance(v, list):
            return sum(v)
        return v

    present = [r for r in rows if r[key] is not None]
    missing = [r for r in rows if r[key] is None]
    present.sort(key=value, reverse=sort.startswith("-"))
    return present + missing


# --- the queries -----------------------------------------------------------------------------


class _Wip:
    def __init__(self) -> None:
        self.wip = 0
        self.limit: int | None = None
        self.at_limit = 0
        self.over_limit = 0


def _wip(board_ids: list[int]) -> dict[int, _Wip]:
    """Live cards of the in-progress columns, the sum of their limits, and how many of them
    sit at or over their limit. One row per column (a handful per board)."""
    result: dict[int, _Wip] = defaultdict(_Wip)
    # A count per column by its (column, archived) index: a join with every card would make
    # the planner weigh all the cards of the database against a few hundred columns.
    live = (
        Card.objects.filter(column_id=OuterRef("pk"), archived=False)
        .order_by()
        .values("column_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    columns = (
        Column.objects.filter(board_id__in=board_ids, stage__in=IN_PROGRESS)
        .annotate(n=Coalesce(Subquery(live), 0))
        .order_by()
        .values_list("board_id", "wip_limit", "n")
    )
    unlimited: set[int] = set()
    for board_id, limit, n in columns:
        w = result[board_id]
        w.wip += n
        if limit is None:
            unlimited.add(board_id)
        else:
            w.limit = (w.limit or 0) + limit
            w.at_limit += n == limit
            w.over_limit += n > limit
    # "n / limit" compares like with like only when every in-progress column has a limit: a
    # board with an unlimited column has no overall cap (its columns' own states still show).
    for board_id in unlimited:
        result[board_id].limit = None
    return result


def _open_blocks(board_ids: list[int]) -> dict[int, tuple[int, datetime]]:
    """Open blocks of live cards per board, and when the oldest began."""
    rows = (
        Block.objects.filter(board_id__in=board_ids, ended_at__isnull=True, card__archived=False)
        .order_by()
        .values("board_id")
        .annotate(n=Count("id"), oldest=Min("started_at"))
        .values_list("board_id", "n", "oldest")
    )
    return {board_id: (n, oldest) for board_id, n, oldest in rows}


def _open_alerts(board_ids: list[int]) -> dict[int, int]:
    rows = (
        Alert.objects.filter(board_id__in=board_ids, closed_at__isnull=True)
        .order_by()
        .values("board_id")
        .annotate(n=Count("id"))
        .values_list("board_id", "n")
    )
    return dict(rows)


def _snapshots(board_ids: list[int]) -> dict[int, tuple[float | None, float | None, datetime]]:
    """From each default snapshot only the figures shown, extracted by the database: the JSON
    of a snapshot (CFD, finished cards, ageing work) is tens of kilobytes."""
    rows = (
        MetricsSnapshot.objects.filter(board_id__in=board_ids, is_default=True)
        .order_by()
        .annotate(
            lead_p85=Cast(KT("data__lead_time__p85"), FloatField()),
            flow_efficiency=Cast(KT("data__flow_efficiency__value"), FloatField()),
        )
        .values_list("board_id", "lead_p85", "flow_efficiency", "computed_at")
    )
    return {board_id: (lead, eff, at) for board_id, lead, eff, at in rows}


_RECENT_LEAD_SQL = """
SELECT c.board_id,
       percentile_cont(%(p)s) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM
           c.finished_at - COALESCE(c.committed_at, c.finished_at)))
           FILTER (WHERE c.finished_at >= %(recent)s),
       percentile_cont(%(p)s) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM
           c.finished_at - COALESCE(c.committed_at, c.finished_at)))
           FILTER (WHERE c.finished_at < %(recent)s),
       COUNT(*) FILTER (WHERE c.finished_at >= %(recent)s)
FROM {card} c
WHERE c.board_id = ANY(%(boards)s) AND c.finished_at >= %(previous)s AND c.finished_at <= %(now)s
GROUP BY c.board_id
"""


def _recent_lead_times(
    board_ids: list[int], now: datetime
) -> dict[int, tuple[float | None, float | None, int]]:
    """Per board: lead time p85 (days) of the cards finished in the last 28 days and in the 28
    before, and how many finished in the last 28 days. Archived cards count, as in the board's
    metrics. percentile_cont with GROUP BY on Postgres (it is no window function); the same
    interpolation in Python elsewhere."""
    recent, previous = now - RECENT, now - 2 * RECENT
    if connection.vendor == "postgresql":
        sql = _RECENT_LEAD_SQL.format(card=Card._meta.db_table)
        params: dict[str, Any] = {
            "p": LEAD_PERCENTILE,
            "boards": board_ids,
            "recent": recent,
            "previous": previous,
            "now": now,
        }
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return {
                board_id: (_days(recent_s), _days(previous_s), n)
                for board_id, recent_s, previous_s, n in cursor.fetchall()
            }
    leads: dict[int, tuple[list[float], list[float]]] = defaultdict(lambda: ([], []))
    for board_id, committed_at, finished_at in Card.objects.filter(
        board_id__in=board_ids, finished_at__gte=previous, finished_at__lte=now
    ).values_list("board_id", "committed_at", "finished_at"):
        # finished_at__gte/__lte above: never NULL here
        seconds = (finished_at - (committed_at or finished_at)).total_seconds()  # type: ignore[operator]
        leads[board_id][0 if finished_at >= recent else 1].append(seconds)  # type: ignore[operator]
    return {
        board_id: (
            _days(percentile(last, LEAD_PERCENTILE)),
            _days(percentile(before, LEAD_PERCENTILE)),
            len(last),
        )
        for board_id, (last, before) in leads.items()
    }


def _weekly_throughput(board_ids: list[int], now: datetime) -> dict[int, list[int]]:
    """Cards finished per ISO week (UTC, as the metrics count them) over the last
    SPARKLINE_WEEKS weeks, oldest first, the current week last."""
    first_monday = _week_start(now) - timedelta(weeks=SPARKLINE_WEEKS - 1)
    rows = (
        Card.objects.filter(
            board_id__in=board_ids, finished_at__gte=first_monday, finished_at__lte=now
        )
        .annotate(week=TruncWeek("finished_at", tzinfo=UTC))
        .order_by()
        .values("board_id", "week")
        .annotate(n=Count("id"))
        .values_list("board_id", "week", "n")
    )
    result: dict[int, list[int]] = defaultdict(lambda: [0] * SPARKLINE_WEEKS)
    for board_id, week, n in rows:
        index = (week.date() - first_monday.date()).days // 7
        if 0 <= index < SPARKLINE_WEEKS:
            result[board_id][index] += n
    return result


def _week_start(moment: datetime) -> datetime:
    day = moment.astimezone(UTC).date()
    monday = day - timedelta(days=day.weekday())
    return datetime(monday.year, monday.month, monday.day, tzinfo=UTC)


def _days(seconds: float | None) -> float | None:
    return None if seconds is None else round(float(seconds) / DAY, 6)


# --- waits between teams (boards.models.CardWait) -------------------------------------------


class TeamWaitData(TypedDict):
    team: int
    team_name: str
    on_team: int
    on_team_name: str
    open: int
    oldest_started_at: str
    oldest_days: float


def team_waits(organization_id: int, now: datetime) -> list[TeamWaitData]:
    """Open waits of the organisation, team to team: how many, and since when the oldest has
    waited; the longest-waiting pair first. One query."""
    rows = (
        CardWait.objects.filter(organization_id=organization_id, ended_at__isnull=True)
        .values("board__team_id", "board__team__name", "on_board__team_id", "on_board__team__name")
        .annotate(n=Count("id"), oldest=Min("started_at"))
        .order_by("oldest", "board__team_id", "on_board__team_id")
    )
    return [
        {
            "team": r["board__team_id"],
            "team_name": r["board__team__name"],
            "on_team": r["on_board__team_id"],
            "on_team_name": r["on_board__team__name"],
            "open": r["n"],
            "oldest_started_at": r["oldest"].isoformat(),
            "oldest_days": round(max((now - r["oldest"]).total_seconds(), 0) / 86_400, 2),
        }
        for r in rows
    ]
