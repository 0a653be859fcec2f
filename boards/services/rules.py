"""What the services share: row locks in the one global order, positions in a cell, the checks
of what comes in, and the work that follows a change (after commit)."""

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import F, Q

from accounts.models import Membership, User
from accounts.selectors import Access
from boards.flow import followups
from boards.flow.metrics import card_active_seconds
from boards.markdown import render_markdown
from boards.models import (
    Board,
    Card,
    ClassOfService,
    Column,
    Label,
    Stage,
    Swimlane,
    WipPolicy,
)
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


def _lock_card(card_id: int, board_id: int) -> Card:
    _hold_board(board_id)
    card = Card.objects.select_for_update(no_key=True).filter(pk=card_id).first()
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
    card: Card, column_ids: Iterable[int] = ()
) -> tuple[Card, dict[int, Column]]:
    """Lock the card's column and `column_ids` in id order, then the card; return the card as
    read under its lock, and the columns.

    Columns come before the card: a service holding a column lock rewrites the positions of the
    other cards of that column's cells, so a service that held one of those cards while waiting
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
                card = _lock_card(card_id, card.board_id)
                if card.column_id not in columns:
                    raise _CardChangedColumn
                return card, columns
        except _CardChangedColumn:
            # None: the card is gone, which the next line answers
            column_id = Card.objects.filter(pk=card_id).values_list("column_id", flat=True).first()  # type: ignore[assignment]
            if column_id is None:
                raise NotFound("Card not found.") from None


def _cell(column_id: int, swimlane_id: int) -> Q:
    return Q(column_id=column_id, swimlane_id=swimlane_id, archived=False)


def _shift(cell: Q, *, start: int, delta: int) -> None:
    """Shift the positions from `start` to the end of a cell by `delta`, in one UPDATE: the
    uniqueness of positions in a cell is checked at commit (a deferred constraint), so the
    duplicates an UPDATE makes on its way, row by row, are allowed until then."""
    Card.objects.filter(cell, position__gte=start).update(position=F("position") + delta)


def _take_out(card: Card) -> None:
    """Close the gap the card leaves in its cell (the caller gives it its new place)."""
    # a live card has a position (archived cards have none)
    _shift(_cell(card.column_id, card.swimlane_id), start=card.position + 1, delta=-1)  # type: ignore[operator]


def _make_room(column_id: int, swimlane_id: int, position: int) -> None:
    _shift(_cell(column_id, swimlane_id), start=position, delta=+1)


def _cell_size(column_id: int, swimlane_id: int) -> int:
    return Card.objects.filter(_cell(column_id, swimlane_id)).count()


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
        wip = Card.objects.filter(column=column, archived=False).count()
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
