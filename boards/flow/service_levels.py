"""Service level expectations per class of service, the cards at risk of breaching them, the
WIP of each class, and blocked time grouped by cause.

An SLE says "85 % of this class's work finishes within N days of its start" (Vacanti's
service level expectation). N is what the board set (ServiceLevel.sle_days) or, when it set
none, the 85th percentile cycle time of the class's cards finished in the last 90 days
(boards.flow.metrics.percentile, the project's one percentile). A card in progress is measured
on the same clock as cycle time, from its first entry into an active column: past
AT_RISK_FRACTION of its SLE it is "at risk" (time to swarm on it, while it can still make it),
past the SLE itself "breached". A card that has not started yet has no SLE clock running.
"""

import re
from collections import defaultdict
from datetime import datetime, timedelta
from typing import TypedDict

from django.db.models import Count, DateTimeField, FloatField, Q, Value

from boards.flow.metrics import DAY, Window, percentile
from boards.models import Block, Board, Card, ClassOfService, ServiceLevel, Stage, WipPolicy

SLE_PERCENTILE = 0.85
AT_RISK_FRACTION = 0.7
DERIVE_DAYS = 90  # the derived SLE reads the cards finished in this many days
IN_PROGRESS = (Stage.WAIT, Stage.ACTIVE)
AT_RISK, BREACHED = "at_risk", "breached"


class ServiceLevelData(TypedDict):
    class_of_service: str
    sle_days: float | None  # in force: the one set, else the derived one
    source: str  # "set", "derived" or "none"
    derived_days: float | None
    finished_cards: int  # the derived figure's sample
    wip: int  # cards of the class in progress now
    wip_limit: int | None
    wip_policy: str


def sle_state(age_days: float | None, sle_days: float | None) -> str | None:
    """ "breached" past the SLE, "at_risk" from AT_RISK_FRACTION of it, else None."""
    if age_days is None or sle_days is None:
        return None
    if age_days > sle_days:
        return BREACHED
    if age_days >= AT_RISK_FRACTION * sle_days:
        return AT_RISK
    return None


def derived_sle_days(board_id: int, now: datetime) -> dict[str, tuple[float, int]]:
    """Per class: (the p85 cycle time in days, how many cards it is of) over the cards
    finished in the last DERIVE_DAYS days, archived ones included. One query."""
    durations: dict[str, list[float]] = defaultdict(list)
    rows = Card.objects.filter(
        board_id=board_id,
        finished_at__gte=now - timedelta(days=DERIVE_DAYS),
        started_at__isnull=False,
    ).values_list("class_of_service", "started_at", "finished_at")
    for cos, started, finished in rows:
        durations[cos].append((finished - started).total_seconds() / DAY)  # type: ignore[operator]  # both filtered non-null
    result = {}
    for cos, values in durations.items():
        p85 = percentile(values, SLE_PERCENTILE)
        if p85 is not None:
            result[cos] = (round(p85, 2), len(values))
    return result


def board_service_levels(board: Board, now: datetime) -> list[ServiceLevelData]:
    """Every class of service of the board, in the choices' order: its SLE in force and where it
    comes from, its WIP now and its limit. Three queries."""
    set_levels = {s.class_of_service: s for s in ServiceLevel.objects.filter(board=board)}
    derived = derived_sle_days(board.pk, now)
    wip = dict(
        Card.objects.filter(board=board, archived=False, column__stage__in=IN_PROGRESS)
        .values("class_of_service")
        .annotate(n=Count("id"))
        .values_list("class_of_service", "n")
    )
    result: list[ServiceLevelData] = []
    for cos in ClassOfService.values:
        level = set_levels.get(cos)
        derived_days, finished = derived.get(cos, (None, 0))
        if level is not None and level.sle_days is not None:
            sle, source = level.sle_days, "set"
        elif derived_days is not None:
            sle, source = derived_days, "derived"
        else:
            sle, source = None, "none"
        result.append(
            {
                "class_of_service": cos,
                "sle_days": sle,
                "source": source,
                "derived_days": derived_days,
                "finished_cards": finished,
                "wip": wip.get(cos, 0),
                "wip_limit": level.wip_limit if level else None,
                "wip_policy": level.wip_policy if level else WipPolicy.SOFT,
            }
        )
    return result


def sle_by_class(levels: list[ServiceLevelData]) -> dict[str, float]:
    return {lv["class_of_service"]: lv["sle_days"] for lv in levels if lv["sle_days"] is not None}


def sle_in_force(board_id: int, now: datetime) -> dict[str, float]:
    """The SLE in force per class (set, else derived), in one query, for the board page, which
    draws every card's badge and counts its queries: the SLEs set and the derived figure's
    sample come back together (UNION ALL)."""
    none_at = Value(None, output_field=DateTimeField())
    set_levels = ServiceLevel.objects.filter(board_id=board_id, sle_days__isnull=False).values_list(
        "class_of_service", "sle_days", none_at, none_at
    )
    sample = Card.objects.filter(
        board_id=board_id,
        finished_at__gte=now - timedelta(days=DERIVE_DAYS),
        started_at__isnull=False,
    ).values_list(
        "class_of_service", Value(None, output_field=FloatField()), "started_at", "finished_at"
    )
    chosen: dict[str, float] = {}
    durations: dict[str, list[float]] = defaultdict(list)
    # No ORDER BY inside a compound statement (SQLite refuses it; the models' default orders)
    union = set_levels.order_by().union(sample.order_by(), all=True)
    for cos, sle_days, started, finished in union:
        if sle_days is not None:
            chosen[cos] = sle_days
        else:
            durations[cos].append((finished - started).total_seconds() / DAY)
    for cos, values in durations.items():
        p85 = percentile(values, SLE_PERCENTILE)
        if cos not in chosen and p85 is not None:
            chosen[cos] = round(p85, 2)
    return chosen


class CardAtRiskData(TypedDict):
    card: int
    title: str
    class_of_service: str
    column: int
    column_name: str
    age_days: float  # since its start (the cycle-time clock)
    sle_days: float
    state: str  # "at_risk" or "breached"


def cards_at_risk(board: Board, now: datetime, sle: dict[str, float]) -> list[CardAtRiskData]:
    """The board's started cards in progress past AT_RISK_FRACTION of their class's SLE, the
    most overdue (share of the SLE used) first. One query."""
    if not sle:
        return []
    rows = Card.objects.filter(
        board=board,
        archived=False,
        column__stage__in=IN_PROGRESS,
        started_at__isnull=False,
        class_of_service__in=list(sle),
    ).values("id", "title", "class_of_service", "column_id", "column__name", "started_at")
    found: list[CardAtRiskData] = []
    for r in rows:
        age = (now - r["started_at"]).total_seconds() / DAY  # type: ignore[operator]  # started_at__isnull=False
        days = sle[r["class_of_service"]]
        state = sle_state(age, days)
        if state is None:
            continue
        found.append(
            {
                "card": r["id"],
                "title": r["title"],
                "class_of_service": r["class_of_service"],
                "column": r["column_id"],
                "column_name": r["column__name"],
                "age_days": round(age, 2),
                "sle_days": days,
                "state": state,
            }
        )
    found.sort(key=lambda c: (-c["age_days"] / c["sle_days"], c["card"]))
    return found


# --- blockers by cause -----------------------------------------------------------------------

_SPACES = re.compile(r"\s+")
_EDGES = re.compile(r"^[\W_]+|[\W_]+$")


def normalise_reason(reason: str) -> str:
    """One cause for the ways people write it: case, spacing and surrounding punctuation do not
    make a different cause ("Waiting for vendor." and "waiting  for VENDOR")."""
    return _EDGES.sub("", _SPACES.sub(" ", reason.strip().lower()))


class BlockerCauseData(TypedDict):
    cause: str  # the normalised reason
    example: str  # as someone first wrote it
    blocks: int
    cards: int
    blocked_days: float  # within the window; an open block counts up to now
    open: int


def blocker_causes(board: Board, window: Window, now: datetime) -> list[BlockerCauseData]:
    """The board's blocks that overlap `window`, grouped by normalised reason, the most blocked
    time first. One query (the window's blocks; a board blocks in the tens a week)."""
    blocks = (
        Block.objects.filter(board=board, started_at__lt=window.end_at)
        .filter(Q(ended_at__isnull=True) | Q(ended_at__gt=window.start_at))
        .order_by("started_at", "id")
        .values_list("card_id", "reason", "started_at", "ended_at")
    )
    groups: dict[str, BlockerCauseData] = {}
    cards: dict[str, set[int]] = defaultdict(set)
    for card_id, reason, started, ended in blocks:
        cause = normalise_reason(reason) or "(no reason given)"
        group = groups.setdefault(
            cause,
            {
                "cause": cause,
                "example": reason.strip(),
                "blocks": 0,
                "cards": 0,
                "blocked_days": 0.0,
                "open": 0,
            },
        )
        end = min(ended or now, window.end_at)
        group["blocks"] += 1
        group["open"] += ended is None
        group["blocked_days"] += max((end - max(started, window.start_at)).total_seconds(), 0) / DAY
        cards[cause].add(card_id)
    for cause, group in groups.items():
        group["cards"] = len(cards[cause])
        group["blocked_days"] = round(group["blocked_days"], 3)
    return sorted(groups.values(), key=lambda g: (-g["blocked_days"], g["cause"]))
