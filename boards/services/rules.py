"""What the services share: row locks in the one global order, places in a cell, the checks
of what comes in, and the work that follows a change (after commit)."""

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef, Subquery

from accounts.models import Membership, User
from accounts.selectors import Access
from boards.flow import followups
from boards.flow.metrics import card_active_seconds
from boards.markdown import render_markdown
from boards.models import (
    RANK_GAP,
    Board,
    Card,
    Cell,
    ClassOfService,
    Column,
    Label,
    ServiceLevel,
    Stage,
    Swimlane,
    WipPolicy,
)
from boards.selectors.cards import column_wip
from kanban import sql
from kanban.exceptions import Conflict, Forbidden, InvalidInput, NotFound, WipLimitExceeded
from kanban.sentinels import UNSET

# --- locks and positions ---------------------------------------------------------------------


def _hold_board(board_id: int) -> None:
    """Keep the board from being deleted until this transaction ends (a KEY SHARE lock), for the
    services that take no column lock: delete_board locks every column and then the board row,
    so a writer holding either makes it wait, and one that comes later finds the board gone."""
    if not sql.hold(Board, board_id):
        raise NotFound("Board not found.")


def _lock_card(card_id: int, board_id: int, *, class_limits: bool = False) -> Card:
    """Lock the card. With `class_limits`, the same statement says whether the board has any
    class-of-service WIP limit (`card.class_limited`) and the stage of the card's column
    (`card.column_stage`), so that a board without class limits pays no statement for them."""
    _hold_board(board_id)
    cards = Card.objects.select_for_update(no_key=True).filter(pk=card_id)
    if class_limits:
        cards = cards.annotate(
            class_limited=Exists(
                ServiceLevel.objects.filter(board_id=OuterRef("board_id"), wip_limit__isnull=False)
            ),
            column_stage=Subquery(Column.objects.filter(pk=OuterRef("column_id")).values("stage")),
        )
    card = cards.first()
    if card is None:
        raise NotFound("Card not found.")
    return card


def _lock_columns(column_ids: Iterable[int]) -> dict[int, Column]:
    """Lock columns in id order: every service locks in this order, so none can deadlock.

    FOR NO KEY UPDATE leaves inserts of rows that reference a column (cards, history) unblocked.
    """
    ids = sorted(set(column_ids))
    columns = {
        c.pk: c
        for c in Column.objects.select_for_update(no_key=True).filter(pk__in=ids).order_by("pk")
    }
    if len(columns) != len(ids):
        raise NotFound("Column not found.")
    return columns


class _CardChangedColumn(Exception):
    """The card left the column read for it before its lock was taken."""


def _lock_card_and_columns(
    card: Card, column_ids: Iterable[int] = (), *, class_limits: bool = False
) -> tuple[Card, dict[int, Column]]:
    """Lock the card's column and `column_ids` in id order, then the card; return the card as
    read under its lock, and the columns.

    Columns come before the card: a service holding a column lock changes the ranks and counts
    of that column's cells, so a service that held one of those cards while waiting
    for the column would deadlock with it. The card's column is known only before the card is
    locked (first from the caller's instance); if a concurrent move changed it meanwhile, the
    attempt is rolled back to its savepoint (which releases its locks, keeping the order) and
    taken again with the column read afresh.
    """
    card_id, column_id, column_ids = card.pk, card.column_id, list(column_ids)
    while True:  # retried only after another transaction moved the card: always progress
        try:
            with transaction.atomic():
                columns = _lock_columns([column_id, *column_ids])
                card = _lock_card(card_id, card.board_id, class_limits=class_limits)
                if card.column_id not in columns:
                    raise _CardChangedColumn
                return card, columns
        except _CardChangedColumn:
            # None: the card is gone, which the next line answers
            column_id = Card.objects.filter(pk=card_id).values_list("column_id", flat=True).first()  # type: ignore[assignment]
            if column_id is None:
                raise NotFound("Card not found.") from None


# --- places in a cell --------------------------------------------------------------------------
# A card's place is its rank (boards.models.Card.rank): placing one takes a rank between its
# new neighbours' and leaves every other card as it was; Cell counts each cell's live cards.
# The caller holds the lock of the cell's column, which every change to a cell's cards takes.

_CARD, _CELL = Card._meta.db_table, Cell._meta.db_table
# Beyond this a rank is respaced rather than pushed further out (a bigint ends at 2**63).
_RANK_BOUND = 2**62


def _cell_size(column_id: int, swimlane_id: int) -> int:
    row = sql.fetch_one(
        f"SELECT size FROM {_CELL} WHERE column_id = %s AND swimlane_id = %s",
        [column_id, swimlane_id],
    )
    return row[0] if row else 0


def _add_to_cell(column_id: int, swimlane_id: int, n: int = 1) -> None:
    """Count `n` more live cards in the cell (its row made on first use)."""
    sql.execute(
        f"INSERT INTO {_CELL} (column_id, swimlane_id, size) VALUES (%s, %s, %s) "
        f"ON CONFLICT (column_id, swimlane_id) DO UPDATE SET size = {_CELL}.size + excluded.size",
        [column_id, swimlane_id, n],
    )


def _take_from_cell(column_id: int, swimlane_id: int, n: int = 1) -> None:
    """Count `n` fewer live cards in the cell (which counted them: its row exists)."""
    sql.execute(
        f"UPDATE {_CELL} SET size = size - %s WHERE column_id = %s AND swimlane_id = %s",
        [n, column_id, swimlane_id],
    )


def _neighbours(
    column_id: int, swimlane_id: int, index: int | None, *, leaving: int | None = None
) -> tuple[int | None, int | None]:
    """The ranks either side of place `index` of the cell (None: after the last card), not
    counting the card `leaving` (one moving within the cell). `index` is at most the number
    of the cell's other cards. An index deep in a cell costs its depth (OFFSET walks the
    index); the ends cost one index probe each."""
    where = "column_id = %s AND swimlane_id = %s AND rank IS NOT NULL AND id <> %s"
    params = [column_id, swimlane_id, leaving or 0]
    if index is None:
        row = sql.fetch_one(
            f"SELECT rank FROM {_CARD} WHERE {where} ORDER BY rank DESC LIMIT 1", params
        )
        return (row[0] if row else None), None
    if index == 0:
        row = sql.fetch_one(f"SELECT rank FROM {_CARD} WHERE {where} ORDER BY rank LIMIT 1", params)
        return None, (row[0] if row else None)
    ranks = [
        r
        for (r,) in sql.fetch_all(
            f"SELECT rank FROM {_CARD} WHERE {where} ORDER BY rank LIMIT 2 OFFSET %s",
            [*params, index - 1],
        )
    ]
    return ranks[0], ranks[1] if len(ranks) > 1 else None


def _between(before: int | None, after: int | None) -> int | None:
    """A rank between two neighbours' (None: no card that side), or None when there is no
    room left between them and the cell must be respaced first."""
    if before is None:
        if after is None:
            return RANK_GAP
        rank = after - RANK_GAP
    elif after is None:
        rank = before + RANK_GAP
    elif after - before >= 2:
        return (before + after) // 2
    else:
        return None
    return rank if -_RANK_BOUND < rank < _RANK_BOUND else None


def _respace(column_id: int, swimlane_id: int) -> None:
    """Give the cell's cards ranks RANK_GAP apart again, in their order, in one UPDATE (the
    uniqueness of ranks is checked at commit). Rare: after 32 cards placed one after another
    between the same two neighbours, or 2**30 appended to one cell."""
    sql.execute(
        f"UPDATE {_CARD} SET rank = ordered.n * %s FROM ("
        f"SELECT id, ROW_NUMBER() OVER (ORDER BY rank) AS n FROM {_CARD} "
        "WHERE column_id = %s AND swimlane_id = %s AND rank IS NOT NULL"
        f") AS ordered WHERE {_CARD}.id = ordered.id",
        [RANK_GAP, column_id, swimlane_id],
    )


def _rank_at(
    column_id: int, swimlane_id: int, index: int | None, *, leaving: int | None = None
) -> int:
    """The rank for a card placed at `index` of the cell (None: the end); see _neighbours."""
    rank = _between(*_neighbours(column_id, swimlane_id, index, leaving=leaving))
    if rank is None:
        _respace(column_id, swimlane_id)
        rank = _between(*_neighbours(column_id, swimlane_id, index, leaving=leaving))
        assert rank is not None  # respaced: RANK_GAP between any two neighbours
    return rank


def _clamp_position(position: int | None, size: int) -> int:
    """The API's position is an index; past the end means the end (documented in the schema)."""
    if position is None or position > size:
        return size
    if position < 0:
        raise InvalidInput("The position must be 0 or more.", fields={"position": ["Min 0."]})
    return position


def _check_wip(
    column: Column, *, incoming: int, access: Access, override_reason: str, wip: int | None = None
) -> bool:
    """Raise if `incoming` more cards would break the column's hard limit; return whether the
    limit is exceeded (soft, or overridden) so that the caller can record it. `wip`, when the
    caller has counted it under the lock, saves the count here.

    The caller holds the column's row lock: the count cannot change until it commits.
    """
    if column.wip_limit is None:
        return False
    if wip is None:
        wip = column_wip(column.pk)
    if wip + incoming <= column.wip_limit:
        return False
    if column.wip_policy == WipPolicy.HARD:
        if not override_reason:
            raise WipLimitExceeded(
                f"{column.name} is at its hard WIP limit ({wip}/{column.wip_limit}): "
                "finish or move work out before pulling more in.",
                fields={"column": [f"WIP {wip}/{column.wip_limit}"]},
            )
        if not access.is_manager:
            raise Forbidden("Only an owner or admin can override a hard WIP limit.")
    return True


IN_PROGRESS_STAGES = frozenset({Stage.WAIT, Stage.ACTIVE})


def _enters_progress(from_stage: str | None, to_stage: str) -> bool:
    """Whether a card going from `from_stage` (None: a new card) to `to_stage` starts counting
    toward its class of service's WIP (cards in wait and active columns)."""
    return to_stage in IN_PROGRESS_STAGES and from_stage not in IN_PROGRESS_STAGES


def _check_class_wip(
    board_id: int, class_of_service: str, *, access: Access, override_reason: str
) -> bool:
    """Raise if one more card of `class_of_service` in progress would break the board's hard
    limit for the class; return whether its limit is exceeded (soft, or overridden).

    Locks the class's ServiceLevel row first (after the caller's columns and card), so that
    two cards of the class entering different columns at once are counted one after the
    other: the count, a new statement after the lock, sees the other's commit."""
    level = (
        ServiceLevel.objects.select_for_update(no_key=True)
        .filter(board_id=board_id, class_of_service=class_of_service, wip_limit__isnull=False)
        .first()
    )
    if level is None or level.wip_limit is None:
        return False
    wip = Card.objects.filter(
        board_id=board_id,
        class_of_service=class_of_service,
        archived=False,
        column__stage__in=IN_PROGRESS_STAGES,
    ).count()
    if wip + 1 <= level.wip_limit:
        return False
    if level.wip_policy == WipPolicy.HARD:
        label = ClassOfService(class_of_service).label
        if not override_reason:
            raise WipLimitExceeded(
                f"{label} work is at its hard WIP limit ({wip}/{level.wip_limit}): finish "
                f"{label.lower()} work in progress before starting more.",
                fields={"class_of_service": [f"WIP {wip}/{level.wip_limit}"]},
            )
        if not access.is_manager:
            raise Forbidden("Only an owner or admin can override a hard WIP limit.")
    return True


def _flow_times(card: Card, *, from_stage: str | None, to_stage: str, at: datetime) -> None:
    if card.committed_at is None and to_stage != Stage.BACKLOG:
        card.committed_at = at
    if card.started_at is None and to_stage == Stage.ACTIVE:
        card.started_at = at
    if to_stage == Stage.DONE:
        card.finished_at = at  # the last entry into a done column (DESIGN.md)
    else:
        card.finished_at = None  # reopened: work in progress again
        card.flow_active_seconds = None


def _record_active_time(card: Card) -> None:
    """Store a finished card's unblocked active time (flow efficiency's numerator), read from
    its history once, so that refreshing the board's metrics need not read it again."""
    card.flow_active_seconds = card_active_seconds(card)
    Card.objects.filter(pk=card.pk).update(flow_active_seconds=card.flow_active_seconds)


def _validate_swimlane(board: Board, swimlane: Swimlane | None) -> Swimlane:
    if swimlane is None:
        swimlane = Swimlane.objects.filter(board=board).order_by("position", "id").first()
        if swimlane is None:
            raise Conflict("The board has no swimlane: create one first.")
        return swimlane
    if swimlane.board_id != board.pk:
        raise InvalidInput(
            "The swimlane is not on this board.", fields={"swimlane": ["Not on this board."]}
        )
    return swimlane


def _validate_column(board: Board, column: Column) -> None:
    if column.board_id != board.pk:
        raise InvalidInput(
            "The column is not on this board.", fields={"column": ["Not on this board."]}
        )


def _validate_assignees(board: Board, users: Sequence[User]) -> list[User]:
    ids = {u.pk for u in users}
    known = set(
        Membership.objects.filter(
            organization_id=board.organization_id, user_id__in=ids
        ).values_list("user_id", flat=True)
    )
    if ids - known:
        raise InvalidInput(
            "Assignees must belong to the board's organisation.",
            fields={"assignees": [f"Unknown user ids: {sorted(ids - known)}"]},
        )
    return list(users)


def _validate_labels(board: Board, labels: Sequence[Label]) -> list[Label]:
    foreign = sorted(label.pk for label in labels if label.board_id != board.pk)
    if foreign:
        raise InvalidInput(
            "Labels must belong to the card's board.",
            fields={"labels": [f"Not on this board: {foreign}"]},
        )
    return list(labels)


def _validate_card_fields(*, value: Any, class_of_service: Any) -> None:
    if value is not UNSET and not (0 <= value <= 100):
        raise InvalidInput("The value is a score from 0 to 100.", fields={"value": ["0-100."]})
    if class_of_service is not UNSET and class_of_service not in ClassOfService.values:
        raise InvalidInput(
            "Unknown class of service.",
            fields={"class_of_service": [f"One of {', '.join(ClassOfService.values)}."]},
        )


def _rendered(text: str, *, limit: int, field: str) -> str:
    """The text's HTML. Rendered before any row lock is taken: however slow a text is to render,
    it holds up no one else's writes (bench/markdown_render.py)."""
    if len(text) > limit:
        raise InvalidInput(
            f"The {field} is longer than {limit:,} characters.",
            fields={field: [f"At most {limit} characters."]},
        )
    return render_markdown(text)


def _after_change(board_id: int) -> None:
    """Once this transaction commits: check the board's WIP alerts, and (debounced) recompute
    its metrics (boards.tasks.board_changed; the alerts' clock is the board's last change)."""
    followups.after_board_change(board_id)
