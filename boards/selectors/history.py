"""A card's moves and comments, a board's alerts and its typical cycle time."""

from typing import Any

from django.db import connection
from django.db.models import (
    QuerySet,
)

from boards.flow.metrics import DAY, percentile
from boards.models import (
    Board,
    Card,
    CardMove,
    Comment,
)
from boards.selectors.cards import user_dict


def card_moves(card: Card) -> QuerySet[CardMove]:
    return (
        CardMove.objects.filter(card=card)
        .select_related("from_column", "to_column", "actor")
        .order_by("at", "id")
    )


def move_dict(m: CardMove) -> dict[str, Any]:
    return {
        "id": m.pk,
        "from_column": m.from_column_id,
        "from_column_name": m.from_column.name if m.from_column else None,
        "to_column": m.to_column_id,
        "to_column_name": m.to_column.name if m.to_column else None,
        "from_swimlane": m.from_swimlane_id,
        "to_swimlane": m.to_swimlane_id,
        "from_stage": m.from_stage or None,
        "to_stage": m.to_stage,
        "position": m.position,
        "at": m.at.isoformat(),
        "actor": user_dict(m.actor) if m.actor else None,
        "override_reason": m.override_reason,
    }


def card_comments(card: Card) -> QuerySet[Comment]:
    return Comment.objects.filter(card=card).select_related("author").order_by("created_at", "id")


def comment_dict(comment: Comment) -> dict[str, Any]:
    return {
        "id": comment.pk,
        "card": comment.card_id,
        "author": user_dict(comment.author) if comment.author else None,
        "body": comment.body,
        "body_html": comment.body_html,
        "created_at": comment.created_at.isoformat(),
    }


# --- ageing ----------------------------------------------------------------------------------

TYPICAL_CYCLE_TIME_PERCENTILE = 0.85


def typical_cycle_time_days(board_id: int) -> float | None:
    """The board's typical cycle time: the 85th percentile of (finished_at - started_at), in
    days, over its finished live cards; None while no card has finished. One query.

    The board page marks work in progress older than this as ageing: most work of this board
    finishes faster, so such a card deserves a look at the stand-up. Percentiles interpolate
    linearly (Postgres percentile_cont, numpy's default), as every metric of the design does.
    """
    finished = Card.objects.filter(
        board_id=board_id, archived=False, finished_at__isnull=False, started_at__isnull=False
    )
    if connection.vendor == "postgresql":
        table = Card._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT percentile_cont(%s) WITHIN GROUP "
                "(ORDER BY EXTRACT(EPOCH FROM finished_at - started_at)) "
                f"FROM {table} WHERE board_id = %s AND NOT archived "
                "AND finished_at IS NOT NULL AND started_at IS NOT NULL",
                [TYPICAL_CYCLE_TIME_PERCENTILE, board_id],
            )
            seconds = cursor.fetchone()[0]
        return None if seconds is None else float(seconds) / DAY
    durations = [
        # `finished` excludes NULL start and finish times
        (finished_at - started_at).total_seconds()  # type: ignore[operator]
        for started_at, finished_at in finished.values_list("started_at", "finished_at")
    ]
    seconds = percentile(durations, TYPICAL_CYCLE_TIME_PERCENTILE)
    return None if seconds is None else seconds / DAY


def board_alerts(board: Board, state: str = "open"):
    from boards.models import Alert

    alerts = Alert.objects.filter(board=board)
    if state == "open":
        alerts = alerts.filter(closed_at__isnull=True)
    elif state == "closed":
        alerts = alerts.filter(closed_at__isnull=False)
    return alerts.order_by("-opened_at", "-id")
