"""Every write to boards, columns, swimlanes, cards, labels and comments.

Each service owns its transaction, checks the actor's right to write, takes its row locks in
the one global order (columns by id, then the card, then the board row through the event log),
writes the history and the board's event in the same transaction, and leaves publishing to
boards.live.events (after commit). The REST API, the demo loader, the admin and the tests all call
these functions; nothing else writes these models.
"""

import functools
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from accounts.models import MANAGER_ROLES, Membership, Role, Team, TeamMembership, User
from accounts.selectors import Access, board_access
from boards.flow.metrics import active_seconds, card_active_seconds
from boards.live.events import append_event, append_events
from boards.markdown import COMMENT_MAX, DESCRIPTION_MAX, render_markdown
from boards.models import (
    Block,
    Board,
    Card,
    CardMove,
    ClassOfService,
    Column,
    Comment,
    ImportJob,
    ImportStatus,
    Label,
    Stage,
    Swimlane,
    WipPolicy,
)
from boards.selectors import (
    CARD_FIELDS,
    card_as_dict,
    card_dict_of,
    column_as_dict,
    comment_dict,
    get_card_for_user,
    label_dict,
    not_on_board,
    relation_ids_sql,
    resolve_column,
    resolve_swimlane,
    swimlane_dict,
)
from kanban import sql
from kanban.exceptions import Conflict, Forbidden, InvalidInput, NotFound, WipLimitExceeded
from kanban.sentinels import UNSET

DEFAULT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("Backlog", Stage.BACKLOG),
    ("Ready", Stage.WAIT),
    ("Doing", Stage.ACTIVE),
    ("Review", Stage.WAIT),
    ("Done", Stage.DONE),
)


# --- access ----------------------------------------------------------------------------------


def ensure_can_write(actor: User, board: Board) -> Access:
    access = board_access(actor, organization_id=board.organization_id, team_id=board.team_id)
    if not access.can_read:
        raise NotFound("Board not found.")
    if not access.can_write:
        if access.role == "viewer":
            raise Forbidden("Viewers have read-only access to boards.")
        raise Forbidden(
            "Only members of the board's team, or an owner or admin of the organisation, "
            "can change this board."
        )
    return access


def ensure_manager(actor: User, board: Board) -> Access:
    access = ensure_can_write(actor, board)
    if not access.is_manager:
        raise Forbidden("Only an owner or admin of the organisation can do this.")
    return access


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
            column_id = Card.objects.filter(pk=card_id).values_list("column_id", flat=True).first()
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
    _shift(_cell(card.column_id, card.swimlane_id), start=card.position + 1, delta=-1)


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
    from boards import tasks  # tasks import the services' modules: import late

    tasks.after_board_change(board_id)


# --- boards ----------------------------------------------------------------------------------


@transaction.atomic
def create_board(
    *,
    team: Team,
    name: str,
    description: str = "",
    columns: Sequence[dict[str, Any]] | None = None,
    swimlanes: Sequence[str] = ("Default",),
    actor: User,
    at: datetime | None = None,
) -> Board:
    """Create a board for `team`. With no `columns`, the five default ones (Backlog, Ready,
    Doing, Review, Done); every board has at least one swimlane."""
    board = Board(
        organization_id=team.organization_id,
        team=team,
        name=name,
        description=description,
        created_at=at or timezone.now(),
    )
    ensure_can_write(actor, board)
    board.save()
    specs = columns or [{"name": n, "stage": s} for n, s in DEFAULT_COLUMNS]
    for spec in specs:
        _validate_column_fields(
            stage=spec.get("stage", Stage.WAIT),
            wip_policy=spec.get("wip_policy", WipPolicy.SOFT),
            wip_limit=spec.get("wip_limit"),
        )
    Column.objects.bulk_create(
        Column(
            board=board,
            position=i,
            name=spec["name"],
            stage=spec.get("stage", Stage.WAIT),
            wip_limit=spec.get("wip_limit"),
            wip_policy=spec.get("wip_policy", WipPolicy.SOFT),
            policy=spec.get("policy", ""),
        )
        for i, spec in enumerate(specs)
    )
    Swimlane.objects.bulk_create(
        Swimlane(board=board, name=lane, position=i)
        for i, lane in enumerate(swimlanes or ["Default"])
    )
    append_event(
        board.pk,
        type="board.created",
        data={"board": {"id": board.pk, "name": name}},
        actor=actor,
        at=at,
    )
    return board


@transaction.atomic
def update_board(
    board: Board,
    *,
    name: str = UNSET,
    description: str = UNSET,
    team: Team = UNSET,
    actor: User,
) -> Board:
    ensure_can_write(actor, board)
    _hold_board(board.pk)
    changed = []
    if name is not UNSET:
        board.name = name
        changed.append("name")
    if description is not UNSET:
        board.description = description
        changed.append("description")
    if team is not UNSET and team.pk != board.team_id:
        if team.organization_id != board.organization_id:
            raise InvalidInput(
                "The team is not in this organisation.",
                fields={"team": ["Not in this organisation."]},
            )
        ensure_manager(actor, board)  # handing a board to another team is a manager's call
        board.team = team
        changed.append("team")
    if changed:
        board.save(update_fields=[*changed, "updated_at"])
        append_event(
            board.pk,
            type="board.updated",
            data={
                "board": {
                    "id": board.pk,
                    "name": board.name,
                    "description": board.description,
                    "team": board.team_id,
                },
                "changed": changed,
            },
            actor=actor,
        )
    return board


@transaction.atomic
def delete_board(
    board: Board, *, actor: User | None, partial_import: ImportJob | None = None
) -> None:
    """Delete a board and everything on it. Owners and admins only: it cannot be undone.

    With `partial_import`, the board is what that import (running, its row locked by the
    caller) has built so far: deleting it is the import's own clean-up, so that a failed
    import leaves nothing behind, and needs no right of the actor's (the member who started
    it, who may have lost their rights meanwhile, or whose account is gone: None).

    Locks every column (FOR UPDATE, in id order), then the board row, as every writer locks:
    a move or a new card holds a column, every other writer holds the board row (KEY SHARE,
    _hold_board) before anything else. So the delete waits for the writes in flight, and
    writes that come after it find the board gone (404) instead of failing on a foreign key
    or deadlocking with the cascade."""
    if partial_import is None:
        ensure_manager(actor, board)
    elif partial_import.board_id != board.pk or partial_import.status != ImportStatus.RUNNING:
        raise Forbidden("Only the running import that built a board may delete it this way.")
    list(Column.objects.select_for_update().filter(board=board).order_by("pk").values("pk"))
    if Board.objects.select_for_update().filter(pk=board.pk).values_list("pk").first() is None:
        raise NotFound("Board not found.")
    # Cards protect their columns and swimlanes; remove the cards first.
    Card.objects.filter(board=board).delete()
    board.delete()


# --- columns ---------------------------------------------------------------------------------


def _lock_board_columns(board: Board) -> dict[int, Column]:
    """Lock every column of the board, in id order: renumbering writes them all, and a move
    waiting on one of them while we hold another would otherwise deadlock."""
    return _lock_columns(Column.objects.filter(board=board).values_list("pk", flat=True))


def _renumber_columns(board: Board, moving: Column | None, position: int | None) -> None:
    """Positions 0..n-1 in order, `moving` at `position`. The caller holds every column lock
    (_lock_board_columns)."""
    columns = [
        c
        for c in Column.objects.filter(board=board).order_by("position", "id")
        if moving is None or c.pk != moving.pk
    ]
    if moving is not None:
        index = len(columns) if position is None else min(max(position, 0), len(columns))
        columns.insert(index, moving)
    for i, column in enumerate(columns):
        column.position = i
    Column.objects.bulk_update(columns, ["position"])


def _validate_column_fields(*, stage: Any, wip_policy: Any, wip_limit: Any) -> None:
    if stage is not UNSET and stage not in Stage.values:
        raise InvalidInput(
            "Unknown stage.", fields={"stage": [f"One of {', '.join(Stage.values)}."]}
        )
    if wip_policy is not UNSET and wip_policy not in WipPolicy.values:
        raise InvalidInput("Unknown WIP policy.", fields={"wip_policy": ["soft or hard."]})
    if wip_limit not in (UNSET, None) and wip_limit < 1:
        raise InvalidInput(
            "A WIP limit is at least 1 (or null for none).", fields={"wip_limit": ["Min 1."]}
        )


@transaction.atomic
def create_column(
    board: Board,
    *,
    name: str,
    stage: str = Stage.WAIT,
    position: int | None = None,
    wip_limit: int | None = None,
    wip_policy: str = WipPolicy.SOFT,
    policy: str = "",
    actor: User,
) -> Column:
    ensure_can_write(actor, board)
    _validate_column_fields(stage=stage, wip_policy=wip_policy, wip_limit=wip_limit)
    _lock_board_columns(board)
    column = Column.objects.create(
        board=board,
        name=name,
        stage=stage,
        wip_limit=wip_limit,
        wip_policy=wip_policy,
        policy=policy,
        position=10_000,
    )
    _renumber_columns(board, column, position)
    append_event(
        board.pk, type="column.created", data={"column": column_as_dict(column)}, actor=actor
    )
    return column


@transaction.atomic
def update_column(
    column: Column,
    *,
    name: str = UNSET,
    stage: str = UNSET,
    position: int = UNSET,
    wip_limit: int | None = UNSET,
    wip_policy: str = UNSET,
    policy: str = UNSET,
    actor: User,
    at: datetime | None = None,
) -> Column:
    board = column.board
    ensure_can_write(actor, board)
    _validate_column_fields(stage=stage, wip_policy=wip_policy, wip_limit=wip_limit)
    if position is UNSET:
        column = _lock_columns([column.pk])[column.pk]
    else:
        column = _lock_board_columns(board)[column.pk]
    changed = []
    for field, value in (
        ("name", name),
        ("stage", stage),
        ("wip_limit", wip_limit),
        ("wip_policy", wip_policy),
        ("policy", policy),
    ):
        if value is not UNSET and getattr(column, field) != value:
            setattr(column, field, value)
            changed.append(field)
    if changed:
        column.save(update_fields=changed)
    if position is not UNSET and position != column.position:
        _renumber_columns(board, column, position)
        changed.append("position")
        column.refresh_from_db(fields=["position"])
    if changed:
        append_event(
            board.pk,
            type="column.updated",
            data={"column": column_as_dict(column), "changed": changed},
            actor=actor,
            at=at,
        )
        _after_change(board.pk)  # a limit or a stage may have changed what is breached
    return column


@transaction.atomic
def delete_column(column: Column, *, actor: User) -> None:
    board = column.board
    ensure_can_write(actor, board)
    column = _lock_board_columns(board)[column.pk]
    if Card.objects.filter(column=column).exists():
        raise Conflict(
            f"{column.name} still holds cards (archived ones count): move or delete them first."
        )
    if Column.objects.filter(board=board).count() <= 1:
        raise Conflict("A board needs at least one column.")
    data = {"column": {"id": column.pk, "name": column.name}}
    column.delete()
    _renumber_columns(board, None, None)
    append_event(board.pk, type="column.deleted", data=data, actor=actor)


# --- swimlanes -------------------------------------------------------------------------------


def _renumber_swimlanes(board: Board, moving: Swimlane | None, position: int | None) -> None:
    lanes = [
        s
        for s in Swimlane.objects.filter(board=board).order_by("position", "id")
        if moving is None or s.pk != moving.pk
    ]
    if moving is not None:
        index = len(lanes) if position is None else min(max(position, 0), len(lanes))
        lanes.insert(index, moving)
    for i, lane in enumerate(lanes):
        lane.position = i
    Swimlane.objects.bulk_update(lanes, ["position"])


def _lock_swimlane(swimlane_id: int) -> Swimlane:
    """The swimlane as it is now, locked (the caller may hold a stale copy)."""
    swimlane = Swimlane.objects.select_for_update(no_key=True).filter(pk=swimlane_id).first()
    if swimlane is None:
        raise NotFound("Swimlane not found.")
    return swimlane


@transaction.atomic
def create_swimlane(
    board: Board,
    *,
    name: str,
    position: int | None = None,
    wip_limit: int | None = None,
    actor: User,
) -> Swimlane:
    ensure_can_write(actor, board)
    if wip_limit is not None and wip_limit < 1:
        raise InvalidInput("A WIP limit is at least 1.", fields={"wip_limit": ["Min 1."]})
    _hold_board(board.pk)
    lane = Swimlane.objects.create(board=board, name=name, wip_limit=wip_limit, position=10_000)
    _renumber_swimlanes(board, lane, position)
    lane.refresh_from_db(fields=["position"])
    append_event(
        board.pk, type="swimlane.created", data={"swimlane": swimlane_dict(lane)}, actor=actor
    )
    return lane


@transaction.atomic
def update_swimlane(
    swimlane: Swimlane,
    *,
    name: str = UNSET,
    position: int = UNSET,
    wip_limit: int | None = UNSET,
    actor: User,
) -> Swimlane:
    board = swimlane.board
    ensure_can_write(actor, board)
    if wip_limit not in (UNSET, None) and wip_limit < 1:
        raise InvalidInput("A WIP limit is at least 1.", fields={"wip_limit": ["Min 1."]})
    _hold_board(board.pk)
    swimlane = _lock_swimlane(swimlane.pk)
    changed = []
    if name is not UNSET and name != swimlane.name:
        swimlane.name = name
        changed.append("name")
    if wip_limit is not UNSET and wip_limit != swimlane.wip_limit:
        swimlane.wip_limit = wip_limit
        changed.append("wip_limit")
    if changed:
        swimlane.save(update_fields=changed)
    if position is not UNSET and position != swimlane.position:
        _renumber_swimlanes(board, swimlane, position)
        swimlane.refresh_from_db(fields=["position"])
        changed.append("position")
    if changed:
        append_event(
            board.pk,
            type="swimlane.updated",
            data={"swimlane": swimlane_dict(swimlane), "changed": changed},
            actor=actor,
        )
    return swimlane


@transaction.atomic
def delete_swimlane(swimlane: Swimlane, *, actor: User) -> None:
    board = swimlane.board
    ensure_can_write(actor, board)
    _hold_board(board.pk)
    swimlane = _lock_swimlane(swimlane.pk)
    if Card.objects.filter(swimlane=swimlane).exists():
        raise Conflict(f"{swimlane.name} still holds cards: move or delete them first.")
    if Swimlane.objects.filter(board=board).count() <= 1:
        raise Conflict("A board needs at least one swimlane.")
    data = {"swimlane": {"id": swimlane.pk, "name": swimlane.name}}
    swimlane.delete()
    _renumber_swimlanes(board, None, None)
    append_event(board.pk, type="swimlane.deleted", data=data, actor=actor)


# --- labels ----------------------------------------------------------------------------------


@transaction.atomic
def create_label(
    board: Board,
    *,
    name: str,
    color: str = "#64748b",
    actor: User,
    at: datetime | None = None,
) -> Label:
    ensure_can_write(actor, board)
    _hold_board(board.pk)
    if Label.objects.filter(board=board, name=name).exists():
        raise Conflict(f"The board already has a label {name!r}.", fields={"name": ["Taken."]})
    label = Label.objects.create(board=board, name=name, color=color)
    append_event(
        board.pk, type="label.created", data={"label": label_dict(label)}, actor=actor, at=at
    )
    return label


# --- cards -----------------------------------------------------------------------------------


@transaction.atomic
def create_card(
    board: Board,
    *,
    title: str,
    column: Column,
    swimlane: Swimlane | None = None,
    position: int | None = None,
    description: str = "",
    assignees: Sequence[User] = (),
    labels: Sequence[Label] = (),
    value: int = 50,
    customer: str = "",
    class_of_service: str = ClassOfService.STANDARD,
    due_date: date | None = None,
    override_reason: str = "",
    actor: User,
    at: datetime | None = None,
) -> Card:
    """Create a card at `position` (default: the end) of (column, swimlane).

    A card created outside the backlog is committed at creation. Counts toward WIP like a move:
    a column at its hard limit refuses it (409) unless an owner/admin overrides.
    """
    at = at or timezone.now()
    access = ensure_can_write(actor, board)
    _validate_column(board, column)
    swimlane = _validate_swimlane(board, swimlane)
    _validate_card_fields(value=value, class_of_service=class_of_service)
    description_html = _rendered(description, limit=DESCRIPTION_MAX, field="description")
    assignees = _validate_assignees(board, assignees)
    labels = _validate_labels(board, labels)

    column = _lock_columns([column.pk])[column.pk]
    over_limit = _check_wip(column, incoming=1, access=access, override_reason=override_reason)
    position = _clamp_position(position, _cell_size(column.pk, swimlane.pk))
    _make_room(column.pk, swimlane.pk, position)
    card = Card(
        board=board,
        column=column,
        swimlane=swimlane,
        position=position,
        title=title,
        description=description,
        description_html=description_html,
        value=value,
        customer=customer,
        class_of_service=class_of_service,
        due_date=due_date,
        created_by=actor,
        created_at=at,
        updated_at=at,
    )
    _flow_times(card, from_stage=None, to_stage=column.stage, at=at)
    card.save()
    if assignees:
        card.assignees.set(assignees)
    if labels:
        card.labels.set(labels)
    CardMove.objects.create(
        card=card,
        board=board,
        from_column=None,
        to_column=column,
        from_swimlane=None,
        to_swimlane=swimlane,
        from_stage="",
        to_stage=column.stage,
        position=position,
        at=at,
        actor=actor,
        override_reason=override_reason,
    )
    if column.stage == Stage.DONE:
        _record_active_time(card)
    append_event(
        board.pk,
        type="card.created",
        data={"card": card_as_dict(card.pk), "wip_exceeded": over_limit},
        actor=actor,
        at=at,
    )
    _after_change(board.pk)
    return card


@transaction.atomic
def update_card(
    card: Card,
    *,
    title: str = UNSET,
    description: str = UNSET,
    assignees: Sequence[User] = UNSET,
    labels: Sequence[Label] = UNSET,
    value: int = UNSET,
    customer: str = UNSET,
    class_of_service: str = UNSET,
    due_date: date | None = UNSET,
    actor: User,
    at: datetime | None = None,
) -> Card:
    """Edit a card's content. Where it sits is changed by move_card, archive_card and the
    block services, never here."""
    at = at or timezone.now()
    board = card.board
    ensure_can_write(actor, board)
    _validate_card_fields(value=value, class_of_service=class_of_service)
    if description is not UNSET:
        description_html = _rendered(description, limit=DESCRIPTION_MAX, field="description")
    card = _lock_card(card.pk, card.board_id)
    changed: list[str] = []
    for field, new in (
        ("title", title),
        ("value", value),
        ("customer", customer),
        ("class_of_service", class_of_service),
        ("due_date", due_date),
    ):
        if new is not UNSET and getattr(card, field) != new:
            setattr(card, field, new)
            changed.append(field)
    if description is not UNSET and description != card.description:
        card.description = description
        card.description_html = description_html
        changed += ["description", "description_html"]
    if assignees is not UNSET:
        new_ids = {u.pk for u in _validate_assignees(board, assignees)}
        if new_ids != set(card.assignees.values_list("id", flat=True)):
            card.assignees.set(list(assignees))
            changed.append("assignees")
    if labels is not UNSET:
        new_ids = {label.pk for label in _validate_labels(board, labels)}
        if new_ids != set(card.labels.values_list("id", flat=True)):
            card.labels.set(list(labels))
            changed.append("labels")
    if changed:
        card.updated_at = at
        card.save(
            update_fields=[f for f in changed if f not in ("assignees", "labels")] + ["updated_at"]
        )
        append_event(
            board.pk,
            type="card.updated",
            data={
                "card": card_as_dict(card.pk),
                "changed": [f for f in changed if f != "description_html"],
            },
            actor=actor,
            at=at,
        )
    _after_change(board.pk)
    return card


# --- the move: the hot path, in plain SQL (kanban/sql.py) -----------------------------------
# A move is the write every viewer and script makes all day; it is written as a handful of
# portable statements so that the locks it holds are held for as short a time as possible.

_CARD, _COLUMN, _SWIMLANE = Card._meta.db_table, Column._meta.db_table, Swimlane._meta.db_table
_BOARD = Board._meta.db_table
_MEMBERSHIP, _TEAM_MEMBERSHIP = Membership._meta.db_table, TeamMembership._meta.db_table
_LOCKED_CARD_FIELDS = (*CARD_FIELDS, "flow_active_seconds")
_LOCKED_COLUMN_FIELDS = ("id", "board_id", "name", "stage", "wip_limit", "wip_policy")


@functools.cache
def _move_sql(vendor: str) -> tuple[str, str, str]:
    """The move's locking statements and the card's own UPDATE, built once per database vendor
    (they lock rows and aggregate ids, which the vendors spell differently)."""
    managers = ", ".join(f"'{role}'" for role in sorted(MANAGER_ROLES))
    # Both columns, locked in id order, only for an actor who may change the board (the rule
    # of accounts.selectors.Access.can_write; no row otherwise, and _why_not_movable says why).
    lock_columns = f"""
        SELECT {sql.columns(Column, _LOCKED_COLUMN_FIELDS, alias="k")}, m.role,
            EXISTS (SELECT 1 FROM {_SWIMLANE} s WHERE s.id = %(lane)s AND s.board_id = c.board_id)
        FROM {_CARD} c
        JOIN {_BOARD} b ON b.id = c.board_id
        JOIN {_MEMBERSHIP} m ON m.organization_id = b.organization_id AND m.user_id = %(actor)s
        JOIN {_COLUMN} k ON k.board_id = c.board_id AND k.id IN (c.column_id, %(column)s)
        WHERE c.id = %(card)s AND (
            m.role IN ({managers})
            OR (m.role = '{Role.MEMBER}' AND EXISTS (
                SELECT 1 FROM {_TEAM_MEMBERSHIP} t
                WHERE t.team_id = b.team_id AND t.user_id = %(actor)s)))
        ORDER BY k.id{sql.lock_clause(of="k")}
    """
    # Counted in the card's own statement: the caller holds both columns' locks, and every
    # change to the cards of a column takes its lock first, so these counts cannot change
    # until it commits, whatever the card's own lock waits for.
    lock_card = f"""
        SELECT {sql.columns(Card, _LOCKED_CARD_FIELDS, alias="c")},
            (SELECT COUNT(*) FROM {_CARD} x
             WHERE x.column_id = %(to_column)s AND NOT x.archived),
            (SELECT COUNT(*) FROM {_CARD} x
             WHERE x.column_id = %(to_column)s AND NOT x.archived
             AND x.swimlane_id = COALESCE(%(to_lane)s, c.swimlane_id)),
            (SELECT COUNT(*) FROM {_CARD} x
             WHERE x.column_id = c.column_id AND x.swimlane_id = c.swimlane_id
             AND NOT x.archived)
        FROM {_CARD} c WHERE c.id = %(card)s{sql.lock_clause(of="c")}
    """
    # The card's assignees and labels come back from its own UPDATE: a statement begun after
    # the card's lock sees the last change another service made to them (not so a subquery of
    # the locking statement, whose snapshot predates the wait for the lock).
    place_card = f"""
        UPDATE {_CARD} SET column_id = %(column)s, swimlane_id = %(lane)s,
            position = %(position)s, committed_at = %(committed_at)s,
            started_at = %(started_at)s, finished_at = %(finished_at)s,
            flow_active_seconds = %(active)s, updated_at = %(at)s
        WHERE id = %(card)s
        RETURNING {relation_ids_sql("%(card)s")}
    """
    return lock_columns, lock_card, place_card


def _why_not_movable(
    card_id: int, *, to_column_id: int, swimlane_id: int | None, actor: User
) -> None:
    """Raise what the API answers when the locking statement found nothing: the card not found,
    then a column or swimlane not on its board, then no right to change the board."""
    card = get_card_for_user(actor, card_id)
    resolve_column(card.board, to_column_id)
    resolve_swimlane(card.board, swimlane_id)
    ensure_can_write(actor, card.board)
    raise _CardChangedColumn  # nothing wrong any more: it changed meanwhile, so again


# The cards that make way for a move: at most two ranges of positions, each in one cell, each
# shifted by -1 or +1, in one UPDATE (positions are unique per cell at commit: see _shift).
_SHIFT_SQL = f"""
    UPDATE {_CARD} SET position = position +
        CASE WHEN column_id = %(column_a)s AND swimlane_id = %(lane_a)s
             THEN %(delta_a)s ELSE %(delta_b)s END
    WHERE NOT archived AND (
        (column_id = %(column_a)s AND swimlane_id = %(lane_a)s
         AND position BETWEEN %(low_a)s AND %(high_a)s)
        OR (column_id = %(column_b)s AND swimlane_id = %(lane_b)s
            AND position BETWEEN %(low_b)s AND %(high_b)s))
"""


def _range_params(
    name: str, cell: tuple[int, int], low: int, high: int, delta: int
) -> dict[str, int]:
    column, lane = cell
    return {
        f"column_{name}": column,
        f"lane_{name}": lane,
        f"low_{name}": low,
        f"high_{name}": high,
        f"delta_{name}": delta,
    }


def _pk(obj: Any) -> int:
    return obj if isinstance(obj, int) else obj.pk


def move_card(
    card: Card | int,
    *,
    to_column: Column | int,
    position: int | None = None,
    swimlane: Swimlane | int | None = None,
    override_reason: str = "",
    actor: User,
    at: datetime | None = None,
) -> CardMove | None:
    """Move a card to `position` (default: the end) of (to_column, swimlane).

    Locks both columns in id order, then the card, so that a hard WIP limit holds however many
    moves race for the last slot, and positions stay dense and unique in every cell. Writes the
    history row and the board's `card.moved` event in the same transaction. Returns the history
    row, or None when the card already sits exactly there (nothing changes, no event).

    `card`, `to_column` and `swimlane` may be instances or ids: only their ids are used, and
    everything about them is read afresh (the API passes the ids of the request as they are).
    """
    while True:
        try:
            return _move_card(
                _pk(card),
                to_column_id=_pk(to_column),
                position=position,
                swimlane_id=None if swimlane is None else _pk(swimlane),
                override_reason=override_reason,
                actor=actor,
                at=at or timezone.now(),
            )
        except _CardChangedColumn:
            # Another move took the card to another column between the read of its column and
            # its lock: the transaction was rolled back (releasing the locks in order). Again.
            continue


@transaction.atomic
def _move_card(
    card_id: int,
    *,
    to_column_id: int,
    position: int | None,
    swimlane_id: int | None,
    override_reason: str,
    actor: User,
    at: datetime,
) -> CardMove | None:
    lock_columns, lock_card, place_card = _move_sql(connection.vendor)
    params = {"actor": actor.pk, "column": to_column_id, "lane": swimlane_id, "card": card_id}
    # The card's column and the target column, locked in id order.
    rows = sql.fetch_all(lock_columns, params)
    if not rows:
        _why_not_movable(card_id, to_column_id=to_column_id, swimlane_id=swimlane_id, actor=actor)
    n = len(_LOCKED_COLUMN_FIELDS)
    columns = {
        column.pk: column
        for column in (sql.instance(Column, _LOCKED_COLUMN_FIELDS, row[:n]) for row in rows)
    }
    role, swimlane_on_board = rows[0][n:]
    if to_column_id not in columns:
        raise not_on_board("column", to_column_id)
    if swimlane_id is not None and not swimlane_on_board:
        raise not_on_board("swimlane", swimlane_id)
    access = Access(role=role, on_team=True)  # a member found here is on the board's team
    if override_reason and not access.is_manager:
        raise Forbidden("Only an owner or admin can override a hard WIP limit.")

    row = sql.fetch_one(lock_card, {"to_column": to_column_id, "to_lane": swimlane_id, **params})
    if row is None:
        raise NotFound("Card not found.")  # deleted meanwhile
    card = sql.instance(Card, _LOCKED_CARD_FIELDS, row[: len(_LOCKED_CARD_FIELDS)])
    counts = dict(zip(("column", "cell", "source"), row[len(_LOCKED_CARD_FIELDS) :], strict=True))
    if card.column_id not in columns:
        raise _CardChangedColumn
    if card.archived:
        raise Conflict("The card is archived: restore it before moving it.")
    board_id = card.board_id
    from_column, to_column = columns[card.column_id], columns[to_column_id]
    to_swimlane_id = swimlane_id if swimlane_id is not None else card.swimlane_id
    same_cell = (card.column_id, card.swimlane_id) == (to_column_id, to_swimlane_id)

    over_limit = False
    if to_column_id != from_column.pk:
        over_limit = _check_wip(
            to_column,
            incoming=1,
            access=access,
            override_reason=override_reason,
            wip=counts["column"],
        )
    size = counts["cell"] - (1 if same_cell else 0)
    new_position = _clamp_position(position, size)
    if same_cell and new_position == card.position:
        return None

    old = {"column": card.column_id, "swimlane": card.swimlane_id, "position": card.position}
    source, target = (card.column_id, card.swimlane_id), (to_column_id, to_swimlane_id)
    if same_cell:  # the cards between the two places make way, one step towards the old place
        if new_position > card.position:
            ranges = [(source, card.position + 1, new_position, -1)] * 2
        else:
            ranges = [(source, new_position, card.position - 1, +1)] * 2
    else:  # the cards below close the gap it leaves, and those from its new place make room
        ranges = [
            (source, card.position + 1, counts["source"] - 1, -1),
            (target, new_position, size - 1, +1),
        ]
    ranges = [r for r in ranges if r[1] <= r[2]]  # none when it was last and goes to the end
    if ranges:
        a, b = (ranges * 2)[:2]  # the statement takes two ranges: a lone one is given twice
        sql.execute(_SHIFT_SQL, {**_range_params("a", *a), **_range_params("b", *b)})
    card.column_id, card.swimlane_id, card.position = to_column_id, to_swimlane_id, new_position
    _flow_times(card, from_stage=from_column.stage, to_stage=to_column.stage, at=at)
    card.updated_at = at
    history = {
        "card_id": card_id,
        "board_id": board_id,
        "from_column_id": from_column.pk,
        "to_column_id": to_column_id,
        "from_swimlane_id": old["swimlane"],
        "to_swimlane_id": to_swimlane_id,
        "from_stage": from_column.stage,
        "to_stage": to_column.stage,
        "position": new_position,
        "at": at,
        "actor_id": actor.pk,
        "override_reason": override_reason,
    }
    move = CardMove(id=sql.insert(CardMove, history), **history)
    if to_column.stage == Stage.DONE:
        # Flow efficiency's numerator, read from the history (with this move) once, here.
        card.flow_active_seconds = card_active_seconds(card)
    dt = connection.ops.adapt_datetimefield_value
    assignees, labels = sql.fetch_one(
        place_card,
        {
            "column": to_column_id,
            "lane": to_swimlane_id,
            "position": new_position,
            "committed_at": dt(card.committed_at),
            "started_at": dt(card.started_at),
            "finished_at": dt(card.finished_at),
            "active": card.flow_active_seconds,
            "at": dt(at),
            "card": card_id,
        },
    )
    card_data = card_dict_of(card, sql.ids(assignees), sql.ids(labels))
    event = append_event(
        board_id,
        type="card.moved",
        data={
            "card": card_data,
            "from_column": old["column"],
            "to_column": to_column_id,
            "from_swimlane": old["swimlane"],
            "to_swimlane": to_swimlane_id,
            "from_position": old["position"],
            "position": new_position,
            "wip_exceeded": over_limit,
            "override_reason": override_reason,
        },
        actor=actor,
        at=at,
    )
    if override_reason and over_limit and to_column.wip_policy == WipPolicy.HARD:
        from boards.flow.alerts import raise_override_alert

        raise_override_alert(
            Board.objects.get(pk=board_id),
            column=to_column,
            wip=counts["column"] + 1,  # counted under the lock, before this card came in
            reason=override_reason,
            actor=actor,
            at=at,
        )
    # Handy for the API's answer (not columns): the event's seq and the card as it now is.
    move.seq, move.card_data = event.seq, card_data
    _after_change(board_id)
    return move


@transaction.atomic
def block_card(card: Card, *, reason: str, actor: User, at: datetime | None = None) -> Block:
    """Pull the andon cord: mark the card blocked, with why, from `at` until unblocked."""
    at = at or timezone.now()
    ensure_can_write(actor, card.board)
    reason = reason.strip()
    if not reason:
        raise InvalidInput("Say why the card is blocked.", fields={"reason": ["Required."]})
    card = _lock_card(card.pk, card.board_id)
    if card.blocked:
        raise Conflict("The card is already blocked.")
    block = Block.objects.create(
        card=card, board_id=card.board_id, reason=reason, started_at=at, blocked_by=actor
    )
    card.blocked, card.block_reason, card.updated_at = True, reason, at
    card.save(update_fields=["blocked", "block_reason", "updated_at"])
    append_event(
        card.board_id,
        type="card.blocked",
        data={"card": card_as_dict(card.pk), "reason": reason},
        actor=actor,
        at=at,
    )
    _after_change(card.board_id)
    return block


@transaction.atomic
def unblock_card(card: Card, *, actor: User, at: datetime | None = None) -> Block:
    at = at or timezone.now()
    ensure_can_write(actor, card.board)
    card = _lock_card(card.pk, card.board_id)
    block = Block.objects.filter(card=card, ended_at__isnull=True).first()
    if not card.blocked or block is None:
        raise Conflict("The card is not blocked.")
    block.ended_at = max(at, block.started_at)
    block.unblocked_by = actor
    block.save(update_fields=["ended_at", "unblocked_by"])
    card.blocked, card.block_reason, card.updated_at = False, "", at
    card.save(update_fields=["blocked", "block_reason", "updated_at"])
    blocked_days = (block.ended_at - block.started_at).total_seconds() / 86_400
    append_event(
        card.board_id,
        type="card.unblocked",
        data={
            "card": card_as_dict(card.pk),
            "reason": block.reason,
            "blocked_days": round(blocked_days, 3),
        },
        actor=actor,
        at=at,
    )
    _after_change(card.board_id)
    return block


@transaction.atomic
def archive_card(card: Card, *, actor: User, at: datetime | None = None) -> Card:
    """Take a card off the board (it stops counting toward WIP); its history is kept."""
    at = at or timezone.now()
    ensure_can_write(actor, card.board)
    card, _ = _lock_card_and_columns(card)
    if card.archived:
        return card
    _take_out(card)
    card.archived, card.position, card.archived_at, card.updated_at = True, None, at, at
    card.save(update_fields=["archived", "position", "archived_at", "updated_at"])
    append_event(
        card.board_id,
        type="card.archived",
        data={"card": card_as_dict(card.pk)},
        actor=actor,
        at=at,
    )
    _after_change(card.board_id)
    return card


@transaction.atomic
def restore_card(card: Card, *, actor: User, at: datetime | None = None) -> Card:
    """Put an archived card back at the end of its cell, if its column has room."""
    at = at or timezone.now()
    access = ensure_can_write(actor, card.board)
    card, columns = _lock_card_and_columns(card)
    if not card.archived:
        return card
    column = columns[card.column_id]
    _check_wip(column, incoming=1, access=access, override_reason="")
    card.position = _cell_size(card.column_id, card.swimlane_id)
    card.archived, card.archived_at, card.updated_at = False, None, at
    card.save(update_fields=["archived", "position", "archived_at", "updated_at"])
    append_event(
        card.board_id,
        type="card.restored",
        data={"card": card_as_dict(card.pk)},
        actor=actor,
        at=at,
    )
    _after_change(card.board_id)
    return card


@transaction.atomic
def delete_card(card: Card, *, actor: User) -> None:
    ensure_can_write(actor, card.board)
    card, _ = _lock_card_and_columns(card)
    if not card.archived:
        _take_out(card)
    data = {
        "card": {
            "id": card.pk,
            "column": card.column_id,
            "swimlane": card.swimlane_id,
            "title": card.title,
        }
    }
    board_id = card.board_id
    card.delete()
    append_event(board_id, type="card.deleted", data=data, actor=actor)
    _after_change(board_id)


@transaction.atomic
def add_comment(card: Card, *, body: str, actor: User, at: datetime | None = None) -> Comment:
    at = at or timezone.now()
    ensure_can_write(actor, card.board)
    body = body.strip()
    if not body:
        raise InvalidInput("A comment needs some text.", fields={"body": ["Required."]})
    body_html = _rendered(body, limit=COMMENT_MAX, field="body")
    # Locked so that a card deleted meanwhile answers 404 (not a foreign-key violation), and
    # a delete waits for the comment instead.
    card = _lock_card(card.pk, card.board_id)
    comment = Comment.objects.create(
        card=card, author=actor, body=body, body_html=body_html, created_at=at
    )
    append_event(
        card.board_id,
        type="card.commented",
        data={"card": card.pk, "comment": comment_dict(comment)},
        actor=actor,
        at=at,
    )
    return comment


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
    for column_id, swimlane_id, n in (
        Card.objects.filter(column_id__in=columns, archived=False)
        .values("column_id", "swimlane_id")
        .annotate(n=Count("id"))
        .values_list("column_id", "swimlane_id", "n")
    ):
        wip[column_id] += n
        if swimlane_id == swimlane.pk:
            cell_size[column_id] = n
    incoming = Counter(spec.column.pk for spec in cards)
    for column_id, column in columns.items():
        _check_wip(
            column,
            incoming=incoming[column_id],
            access=access,
            override_reason="",
            wip=wip[column_id],
        )

    new, exceeded = [], []
    for spec, html in zip(cards, htmls, strict=True):
        column, at = columns[spec.column.pk], spec.at or now
        card = Card(
            board=board,
            column=column,
            swimlane=swimlane,
            position=cell_size[column.pk],
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
        cell_size[column.pk] += 1
        wip[column.pk] += 1
        exceeded.append(column.wip_limit is not None and wip[column.pk] > column.wip_limit)
        new.append(card)
    Card.objects.bulk_create(new)
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
            position=card.position,
            at=card.created_at,
            actor=actor,
        )
        for card in new
    )
    append_events(
        board.pk,
        [
            (
                "card.created",
                {"card": card_dict_of(card, [], sorted(ids)), "wip_exceeded": over},
                card.created_at,
            )
            for card, ids, over in zip(new, label_ids, exceeded, strict=True)
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


def column_wip(board: Board) -> dict[int, int]:
    """Live cards per column (used by the demo loader to pull only into columns with room)."""
    return dict(
        Card.objects.filter(board=board, archived=False)
        .values("column_id")
        .annotate(n=Count("id"))
        .values_list("column_id", "n")
    )
