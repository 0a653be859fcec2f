"""The reads of improvements: by id within the user's organisations (404 otherwise), a board's
list, the dicts the API answers, and the markers the metrics page draws."""

from datetime import UTC, date, timedelta
from typing import Any, TypedDict

from django.db.models import QuerySet

from accounts.models import User
from boards.flow import metrics
from boards.models import Board, Improvement, ImprovementStatus
from boards.selectors.access import get_board_for_user
from kanban.exceptions import NotFound


class ImprovementData(TypedDict):
    id: int
    board: int
    title: str
    hypothesis: str
    target_metric: str
    scope_class_of_service: str | None  # None: the whole board
    baseline_weeks: int
    status: str
    started_at: str | None
    review_on: str
    reviewed_at: str | None
    created_by: str | None
    created_at: str
    baseline: dict[str, Any] | None
    result: dict[str, Any] | None


class Marker(TypedDict):
    """An improvement's start on the metrics page's time charts, in each chart's own x."""

    id: int
    title: str
    day: str
    day_index: int  # days from the window's first day (the CFD and lead-time charts' x)
    week_index: int  # the ISO week's index in the window (the throughput chart's bars)
    weekday: int  # 0 Monday .. 6 Sunday: where in its week's bar the line goes


def improvements_of(board: Board) -> QuerySet[Improvement]:
    return Improvement.objects.filter(board=board).select_related("created_by")


def get_improvement_for_user(user: User, board_id: int, improvement_id: int) -> Improvement:
    """The improvement of a board the user may read, else NotFound (a foreign board's, or
    another board's improvement under this board's path, reads like a missing one)."""
    board = get_board_for_user(user, board_id)
    found = improvements_of(board).filter(pk=improvement_id).first()
    if found is None:
        raise NotFound("Improvement not found.")
    found.board = board  # with its access annotations, for the services' checks
    return found


def improvement_dict(improvement: Improvement) -> ImprovementData:
    author = improvement.created_by
    return {
        "id": improvement.pk,
        "board": improvement.board_id,
        "title": improvement.title,
        "hypothesis": improvement.hypothesis,
        "target_metric": improvement.target_metric,
        "scope_class_of_service": improvement.scope_class_of_service,
        "baseline_weeks": improvement.baseline_weeks,
        "status": improvement.status,
        "started_at": improvement.started_at.isoformat() if improvement.started_at else None,
        "review_on": improvement.review_on.isoformat(),
        "reviewed_at": improvement.reviewed_at.isoformat() if improvement.reviewed_at else None,
        "created_by": author.username if author else None,
        "created_at": improvement.created_at.isoformat(),
        "baseline": improvement.baseline,
        "result": improvement.result,
    }


def markers(board: Board, window: dict[str, str]) -> list[Marker]:
    """The started improvements whose start day lies in the metrics page's window (one query)."""
    span = metrics.Window(date.fromisoformat(window["from"]), date.fromisoformat(window["to"]))
    monday = span.start - timedelta(days=span.start.weekday())  # ISO weeks start on Mondays
    found = (
        Improvement.objects.filter(
            board=board, started_at__gte=span.start_at, started_at__lt=span.end_at
        )
        .exclude(status=ImprovementStatus.DRAFT)
        .order_by("started_at", "id")
        .values_list("id", "title", "started_at")
    )
    out: list[Marker] = []
    for pk, title, started_at in found:
        if started_at is None:  # not after the filter above; for the type
            continue
        day = started_at.astimezone(UTC).date()
        out.append(
            {
                "id": pk,
                "title": title,
                "day": day.isoformat(),
                "day_index": (day - span.start).days,
                "week_index": (day - monday).days // 7,
                "weekday": day.weekday(),
            }
        )
    return out
