"""Dependency waits in a board's metrics: how long its cards waited on other teams' cards (and
others on its own), per pair of teams, and the share of lead time lost to them.

Read when the metrics are asked for (two indexed queries over the board's waits and its
finished cards), not kept in the stored snapshot: a wait ends on another board's move, which
refreshes that board's snapshot, not this one's.
"""

from datetime import datetime
from typing import Any

from django.db.models import Q
from django.utils import timezone

from boards.flow.metrics import DAY, Window, _r, default_window, percentile
from boards.models import Board, Card, CardWait


def _union_seconds(intervals: list[tuple[datetime, datetime]]) -> float:
    """Seconds covered by the intervals, overlaps counted once: a card waiting on two cards at
    the same time loses that time once."""
    total, end = 0.0, None
    start = None
    for a, b in sorted(intervals):
        if end is None or a > end:
            if end is not None and start is not None:
                total += (end - start).total_seconds()
            start, end = a, b
        elif b > end:
            end = b
    if end is not None and start is not None:
        total += (end - start).total_seconds()
    return total


def dependency_waits(
    board: Board, window: Window | None = None, *, now: datetime | None = None
) -> dict[str, Any]:
    """`pairs`: per (waiting team, team waited on), the waits that ended in the window (count,
    p50 and p85 in days) and those open now; `lead_share`: over this board's cards finished in
    the window, the part of their lead time (commitment to finish) spent waiting on another
    card, overlapping waits counted once."""
    now = now or timezone.now()
    window = window or default_window(now)
    start, end = window.start_at, window.end_at
    rows = (
        CardWait.objects.filter(Q(board=board) | Q(on_board=board))
        .filter(Q(ended_at__isnull=True) | Q(ended_at__gte=start, ended_at__lt=end))
        .values(
            "started_at",
            "ended_at",
            "board__team_id",
            "board__team__name",
            "on_board__team_id",
            "on_board__team__name",
        )
    )
    pairs: dict[tuple[int, int], dict[str, Any]] = {}
    for row in rows:
        key = (row["board__team_id"], row["on_board__team_id"])
        pair = pairs.setdefault(
            key,
            {
                "team": key[0],
                "team_name": row["board__team__name"],
                "on_team": key[1],
                "on_team_name": row["on_board__team__name"],
                "days": [],
                "open": 0,
            },
        )
        if row["ended_at"] is None:
            pair["open"] += 1
        else:
            pair["days"].append((row["ended_at"] - row["started_at"]).total_seconds() / DAY)
    out_pairs = []
    for pair in sorted(pairs.values(), key=lambda p: (p["team_name"], p["on_team_name"])):
        days = pair.pop("days")
        out_pairs.append(
            {
                **pair,
                "count": len(days),
                "p50": _r(percentile(days, 0.5)),
                "p85": _r(percentile(days, 0.85)),
            }
        )

    finished = list(
        Card.objects.filter(
            board=board,
            finished_at__gte=start,
            finished_at__lt=end,
            committed_at__isnull=False,
        ).values_list("id", "committed_at", "finished_at")
    )
    # both set: filtered on
    spans: dict[int, tuple[datetime, datetime]] = {
        card_id: (committed, finished_at)  # type: ignore[misc]
        for card_id, committed, finished_at in finished
    }
    intervals: dict[int, list[tuple[datetime, datetime]]] = {card_id: [] for card_id in spans}
    for card_id, started_at, ended_at in CardWait.objects.filter(
        card_id__in=list(spans)
    ).values_list("card_id", "started_at", "ended_at"):
        committed, finished_at = spans[card_id]
        a, b = max(started_at, committed), min(ended_at or now, finished_at)
        if b > a:
            intervals[card_id].append((a, b))
    lead = sum((f - c).total_seconds() for c, f in spans.values())
    waited = sum(_union_seconds(v) for v in intervals.values())
    return {
        "pairs": out_pairs,
        "lead_share": {
            "value": _r(waited / lead) if lead > 0 else None,
            "wait_days": _r(waited / DAY),
            "lead_days": _r(lead / DAY),
            "cards": len(spans),
        },
    }
