"""Writes in batches, for imports: many cards, or many comments, in one transaction."""

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from accounts.models import User
from boards.flow.metrics import active_seconds
from boards.live.events import append_events
from boards.markdown import COMMENT_MAX, DESCRIPTION_MAX
from boards.models import (
    RANK_GAP,
    Board,
    Card,
    CardMove,
    Cell,
    Column,
    Comment,
    Label,
    Stage,
)
from boards.selectors import (
    card_dict_of,
    comment_dict,
)
from boards.services.access import ensure_can_write
from boards.services.rules import (
    _add_to_cell,
    _after_change,
    _check_wip,
    _flow_times,
    _hold_board,
    _lock_columns,
    _rendered,
    _validate_column,
    _validate_labels,
    _validate_swimlane,
)
from kanban.exceptions import InvalidInput, NotFound

# --- batches (imports) -----------------------------------------------------------------------


@dataclass(frozen=True)
class NewCard:
    """One card for create_cards: create_card's fields that an import fills."""

    title: str
    column: Column
    description: str = ""
    labels: Sequence[Label] = ()
    due_date: date | None = None
    at: datetime | None = None


@transaction.atomic
def create_cards(board: Board, *, cards: Sequence[NewCard], actor: User) -> list[Card]:
    """Create `cards` in order, each at the end of its column in the board's first swimlane,
    as create_card would one after the other (the same rows, a creation move each, and a
    `card.created` event each, in order), in a few statements whatever their number: for
    imports, where the per-card statements of create_card cost ~10 ms a card. A hard WIP limit
    that the batch would break refuses the whole batch (409), with no override.

    Locks the columns (in id order), then the board row (through the events)."""
    if not cards:
        return []
    now = timezone.now()
    access = ensure_can_write(actor, board)
    swimlane = _validate_swimlane(board, None)
    for spec in cards:
        _validate_column(board, spec.column)
    _validate_labels(board, [label for spec in cards for label in spec.labels])
    htmls = [
        _rendered(spec.description, limit=DESCRIPTION_MAX, field="description") for spec in cards
    ]

    columns = _lock_columns(spec.column.pk for spec in cards)
    wip, cell_size = dict.fromkeys(columns, 0), dict.fromkeys(columns, 0)
    for column_id, swimlane_id, n in Cell.objects.filter(column_id__in=columns).values_list(
        "column_id", "swimlane_id", "size"
    ):
        wip[column_id] += n
        if swimlane_id == swimlane.pk:
            cell_size[column_id] = n
    # Each column's new cards go after its last one in the lane, RANK_GAP apart.
    last_rank = dict.fromkeys(columns, 0)
    last_rank.update(
        Card.objects.filter(column_id__in=columns, swimlane=swimlane, rank__isnull=False)
        .values("column_id")
        .annotate(last=Max("rank"))
        .values_list("column_id", "last")
    )
    incoming = Counter(spec.column.pk for spec in cards)
    for column_id, column in columns.items():
        _check_wip(
            column,
            incoming=incoming[column_id],
            access=access,
            override_reason="",
            wip=wip[column_id],
        )

    new, exceeded, positions = [], [], []
    for spec, html in zip(cards, htmls, strict=True):
        column, at = columns[spec.column.pk], spec.at or now
        card = Card(
            board=board,
            column=column,
            swimlane=swimlane,
            rank=last_rank[column.pk] + RANK_GAP,  # and last_rank moves on below
            title=spec.title,
            description=spec.description,
            description_html=html,
            due_date=spec.due_date,
            created_by=actor,
            created_at=at,
            updated_at=at,
        )
        _flow_times(card, from_stage=None, to_stage=column.stage, at=at)
        if column.stage == Stage.DONE:  # its one move is its creation: card_active_seconds
            card.flow_active_seconds = active_seconds([(at, column.stage)], [], at, at)
        positions.append(cell_size[column.pk])
        last_rank[column.pk] += RANK_GAP
        cell_size[column.pk] += 1
        wip[column.pk] += 1
        exceeded.append(column.wip_limit is not None and wip[column.pk] > column.wip_limit)
        new.append(card)
    Card.objects.bulk_create(new)
    for column_id, n in incoming.items():
        _add_to_cell(column_id, swimlane.pk, n)
    label_ids = [list(dict.fromkeys(label.pk for label in spec.labels)) for spec in cards]
    Card.labels.through.objects.bulk_create(
        Card.labels.through(card_id=card.pk, label_id=label_id)
        for card, ids in zip(new, label_ids, strict=True)
        for label_id in ids
    )
    CardMove.objects.bulk_create(
        CardMove(
            card=card,
            board=board,
            to_column=card.column,
            to_swimlane=swimlane,
            to_stage=card.column.stage,
            position=position,
            at=card.created_at,
            actor=actor,
        )
        for card, position in zip(new, positions, strict=True)
    )
    append_events(
        board.pk,
        [
            (
                "card.created",
                {
                    "card": card_dict_of(card, [], sorted(ids), position=position),
                    "wip_exceeded": over,
                },
                card.created_at,
            )
            for card, ids, over, position in zip(new, label_ids, exceeded, positions, strict=True)
        ],
        actor=actor,
    )
    _after_change(board.pk)
    return new


@dataclass(frozen=True)
class NewComment:
    """One comment for add_comments."""

    card: Card
    body: str
    at: datetime | None = None


@transaction.atomic
def add_comments(board: Board, *, comments: Sequence[NewComment], actor: User) -> list[Comment]:
    """add_comment for many comments on the board's cards, in order (the same rows, and a
    `card.commented` event each), in a few statements: for imports.

    Holds the board row (KEY SHARE), then locks the cards in id order, as add_comment does."""
    if not comments:
        return []
    now = timezone.now()
    ensure_can_write(actor, board)
    bodies = [spec.body.strip() for spec in comments]
    if not all(bodies):
        raise InvalidInput("A comment needs some text.", fields={"body": ["Required."]})
    htmls = [_rendered(body, limit=COMMENT_MAX, field="body") for body in bodies]
    card_ids = {spec.card.pk for spec in comments}
    if any(spec.card.board_id != board.pk for spec in comments):
        raise InvalidInput("The cards must be on the board.", fields={"card": ["Not on it."]})
    _hold_board(board.pk)
    locked = (
        Card.objects.select_for_update(no_key=True)
        .filter(pk__in=card_ids, board=board)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if len(list(locked)) != len(card_ids):
        raise NotFound("Card not found.")
    new = Comment.objects.bulk_create(
        Comment(
            card_id=spec.card.pk,
            author=actor,
            body=body,
            body_html=html,
            created_at=spec.at or now,
        )
        for spec, body, html in zip(comments, bodies, htmls, strict=True)
    )
    append_events(
        board.pk,
        [
            (
                "card.commented",
                {"card": comment.card_id, "comment": comment_dict(comment)},
                comment.created_at,
            )
            for comment in new
        ],
        actor=actor,
    )
    return new
