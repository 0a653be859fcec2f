"""Cards, columns, lanes and labels as the API's plain dicts (one shape each)."""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, TypedDict

from django.db.models import (
    Q,
    QuerySet,
    Sum,
)
from django.db.models.expressions import RawSQL
from django.utils import timezone

from accounts.models import User
from boards.flow.metrics import DAY
from boards.live.events import ActorData
from boards.models import (
    Board,
    Card,
    Cell,
    Column,
    Label,
    Swimlane,
)
from kanban import sql
from kanban.exceptions import NotFound

_CARD = Card._meta.db_table
# The fields a card's API dict is made of, with `position` (not a field: position_sql).
CARD_FIELDS = (
    "id",
    "board_id",
    "column_id",
    "swimlane_id",
    "rank",
    "title",
    "description",
    "description_html",
    "value",
    "customer",
    "class_of_service",
    "due_date",
    "blocked",
    "block_reason",
    "archived",
    "created_at",
    "updated_at",
    "committed_at",
    "started_at",
    "finished_at",
    "version",
)


def position_sql(card: str) -> str:
    """The API's `position` of the card row `card` (an SQL alias): its index among the live
    cards of its cell in rank order, NULL once archived. Counted on the cell's (column,
    swimlane, rank) index up to the card, so it costs the card's index: nothing near the top of
    a cell, a few ms 50,000 cards down. Whole boards are numbered by walking them in order
    instead (board_snapshot, positions_on_board)."""
    return (
        f"CASE WHEN {card}.rank IS NULL THEN NULL ELSE (SELECT COUNT(*) FROM {_CARD} p "
        f"WHERE p.column_id = {card}.column_id AND p.swimlane_id = {card}.swimlane_id "
        f"AND p.rank < {card}.rank) END"
    )


def card_position(card_id: int) -> int | None:
    row = sql.fetch_one(f"SELECT {position_sql('c')} FROM {_CARD} c WHERE c.id = %s", [card_id])
    return row[0] if row else None


def with_positions(cards: QuerySet[Card]) -> QuerySet[Card]:
    """The cards annotated with their `position` (position_sql, on the query's own table)."""
    return cards.annotate(position=RawSQL(position_sql(_CARD), ()))


def positions_on_board(board_id: int, card_ids: Sequence[int]) -> dict[int, int]:
    """The positions of some live cards of a board (archived ones have none), numbered over
    their cells in one statement: a window over the board's live cards, for reads that go
    through a board in another order (the CSV export, by id, a chunk at a time)."""
    if not card_ids:
        return {}
    marks = ", ".join(["%s"] * len(card_ids))
    return dict(
        sql.fetch_all(
            f"SELECT id, n FROM (SELECT id, ROW_NUMBER() OVER ("
            f"PARTITION BY column_id, swimlane_id ORDER BY rank) - 1 AS n FROM {_CARD} "
            f"WHERE board_id = %s AND rank IS NOT NULL) AS numbered WHERE id IN ({marks})",
            [board_id, *card_ids],
        )
    )


# --- the API's shapes ------------------------------------------------------------------------
# Declared once each: the builders below return them (mypy checks every key), and the OpenAPI
# schema's serializers are made from them (boards/api/serializers.py, kanban.api's
# shape_serializer). A card is this one shape wherever the API or the websocket shows one: the
# board snapshot, search, card reads and writes, the move's answer, every card event's "card".
# One event differs on purpose: card.deleted carries only the card's id, column, swimlane and
# title (the card is gone; boards.services.cards.delete_card).


class CardData(TypedDict):
    id: int
    board: int
    column: int
    swimlane: int
    position: int | None  # null once archived
    title: str
    description: str
    description_html: str
    assignees: list[int]
    labels: list[int]
    value: int
    customer: str
    class_of_service: str
    due_date: str | None  # ISO date
    blocked: bool
    block_reason: str
    archived: bool
    created_at: str  # ISO date-times from here on
    updated_at: str
    committed_at: str | None
    started_at: str | None
    finished_at: str | None
    age_days: float
    version: int  # incremented by every write to the card (If-Match / ETag)


class PersonData(ActorData):
    initials: str


class ColumnData(TypedDict):
    id: int
    board: int
    name: str
    stage: str
    position: int
    wip: int
    wip_limit: int | None
    wip_policy: str
    policy: str


class SwimlaneData(TypedDict):
    id: int
    board: int
    name: str
    position: int
    wip_limit: int | None


class LabelData(TypedDict):
    id: int
    board: int
    name: str
    color: str


# --- plain dicts -----------------------------------------------------------------------------


def age_days(row: dict[str, Any], now: datetime) -> float:
    """Days since the card was committed to (created, if still in the backlog); a finished card's
    age stops at its finish."""
    return age_between(row["committed_at"] or row["created_at"], row["finished_at"], now)


def age_between(start: datetime, finished: datetime | None, now: datetime) -> float:
    end = finished or now
    return round(max((end - start).total_seconds(), 0) / DAY, 2)


def card_dict(
    row: dict[str, Any], assignees: Sequence[int], labels: Sequence[int], now: datetime
) -> CardData:
    return {
        "id": row["id"],
        "board": row["board_id"],
        "column": row["column_id"],
        "swimlane": row["swimlane_id"],
        "position": row["position"],
        "title": row["title"],
        "description": row["description"],
        "description_html": row["description_html"],
        "assignees": list(assignees),
        "labels": list(labels),
        "value": row["value"],
        "customer": row["customer"],
        "class_of_service": row["class_of_service"],
        "due_date": row["due_date"].isoformat() if row["due_date"] else None,
        "blocked": row["blocked"],
        "block_reason": row["block_reason"],
        "archived": row["archived"],
        "created_at": row["created_at"].isoformat(),
        "updated_at": row["updated_at"].isoformat(),
        "committed_at": _iso(row["committed_at"]),
        "started_at": _iso(row["started_at"]),
        "finished_at": _iso(row["finished_at"]),
        "age_days": age_days(row, now),
        "version": row["version"],
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _relations(card_filter: Q) -> tuple[dict[int, list[int]], dict[int, list[int]]]:
    """Assignee and label ids per card, two queries over the through tables."""
    assignees: dict[int, list[int]] = defaultdict(list)
    for card_id, user_id in (
        Card.assignees.through.objects.filter(card_filter)
        .order_by("card_id", "user_id")
        .values_list("card_id", "user_id")
    ):
        assignees[card_id].append(user_id)
    labels: dict[int, list[int]] = defaultdict(list)
    for card_id, label_id in (
        Card.labels.through.objects.filter(card_filter)
        .order_by("card_id", "label_id")
        .values_list("card_id", "label_id")
    ):
        labels[card_id].append(label_id)
    return assignees, labels


def cards_as_dicts(cards: QuerySet[Card] | Iterable[int]) -> list[CardData]:
    """Cards (a queryset, or ids) as API dicts, in the queryset's order: three queries."""
    if not isinstance(cards, QuerySet):
        cards = Card.objects.filter(pk__in=list(cards))
    rows = list(with_positions(cards).values(*CARD_FIELDS, "position"))
    if not rows:
        return []
    ids = [row["id"] for row in rows]
    assignees, labels = _relations(Q(card_id__in=ids))
    now = timezone.now()
    return [card_dict(row, assignees[row["id"]], labels[row["id"]], now) for row in rows]


def relation_ids_sql(card: str) -> str:
    """Two columns: the assignee ids and the label ids of the card whose id is the SQL `card`,
    each aggregated into one string (read back with kanban.sql.ids)."""
    assignees, labels = Card.assignees.through._meta.db_table, Card.labels.through._meta.db_table
    return (
        f"(SELECT {sql.id_list('user_id')} FROM {assignees} WHERE card_id = {card}), "
        f"(SELECT {sql.id_list('label_id')} FROM {labels} WHERE card_id = {card})"
    )


def card_as_dict(card_id: int) -> CardData:
    """One card, for the answers of card writes and reads: one plain statement (kanban/sql.py)."""
    row = sql.fetch_one(
        f"SELECT {sql.columns(Card, CARD_FIELDS, alias='c')}, {relation_ids_sql('c.id')}, "
        f"{position_sql('c')} FROM {_CARD} c WHERE c.id = %s",
        [card_id],
    )
    if row is None:
        raise NotFound("Card not found.")
    n = len(CARD_FIELDS)
    card = sql.instance(Card, CARD_FIELDS, row[:n])
    return card_dict_of(card, sql.ids(row[n]), sql.ids(row[n + 1]), position=row[n + 2])


def card_dict_of(
    card: Card, assignees: Iterable[int], labels: Iterable[int], *, position: int | None
) -> CardData:
    """A card read with CARD_FIELDS, its assignee and label ids, and its position (which the
    caller knows, or reads with position_sql), as an API dict."""
    row = {field: getattr(card, field) for field in CARD_FIELDS}
    row["position"] = position
    return card_dict(row, list(assignees), list(labels), timezone.now())


def user_dict(user: User) -> PersonData:
    return {
        "id": user.pk,
        "username": user.username,
        "name": user.display_name,
        "initials": user.initials,
    }


def board_summary(board: Board) -> dict[str, Any]:
    return {
        "id": board.pk,
        "organization": board.organization.slug,
        "team": board.team_id,
        "team_name": board.team.name,
        "name": board.name,
        "description": board.description,
        "seq": board.last_seq,
        "created_at": board.created_at.isoformat(),
        "updated_at": board.updated_at.isoformat(),
        "release_done_after_days": board.release_done_after_days,
        "no_done_while_waiting": board.no_done_while_waiting,
    }


def column_dict(column: Column, wip: int) -> ColumnData:
    return {
        "id": column.pk,
        "board": column.board_id,
        "name": column.name,
        "stage": column.stage,
        "position": column.position,
        "wip": wip,
        "wip_limit": column.wip_limit,
        "wip_policy": column.wip_policy,
        "policy": column.policy,
    }


def column_as_dict(column: Column) -> ColumnData:
    return column_dict(column, column_wip(column.pk))


def board_wip(board: Board) -> dict[int, int]:
    """Live cards per column of the board, from its cells' counts."""
    return dict(
        Cell.objects.filter(column__board=board)
        .values("column_id")
        .annotate(n=Sum("size"))
        .values_list("column_id", "n")
    )


def column_wip(column_id: int) -> int:
    """The column's live cards, from its cells' counts (boards.models.Cell)."""
    return Cell.objects.filter(column_id=column_id).aggregate(n=Sum("size"))["n"] or 0


def swimlane_dict(swimlane: Swimlane) -> SwimlaneData:
    return {
        "id": swimlane.pk,
        "board": swimlane.board_id,
        "name": swimlane.name,
        "position": swimlane.position,
        "wip_limit": swimlane.wip_limit,
    }


def label_dict(label: Label) -> LabelData:
    return {"id": label.pk, "board": label.board_id, "name": label.name, "color": label.color}
