"""Boards, their columns, swimlanes and labels."""

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import Team, User
from boards.live.events import append_event, board_deleted
from boards.models import (
    Board,
    Card,
    Column,
    ImportJob,
    ImportStatus,
    Label,
    Stage,
    Swimlane,
    WipPolicy,
)
from boards.selectors import (
    column_as_dict,
    label_dict,
    swimlane_dict,
)
from boards.services.access import ensure_can_write, ensure_manager
from boards.services.rules import _after_change, _hold_board, _lock_columns
from kanban.exceptions import Conflict, Forbidden, InvalidInput, NotFound
from kanban.sentinels import UNSET, Unset

DEFAULT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("Backlog", Stage.BACKLOG),
    ("Ready", Stage.WAIT),
    ("Doing", Stage.ACTIVE),
    ("Review", Stage.WAIT),
    ("Done", Stage.DONE),
)


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
    name: str | Unset = UNSET,
    description: str | Unset = UNSET,
    team: Team | Unset = UNSET,
    release_done_after_days: int | Unset | None = UNSET,
    no_done_while_waiting: bool | Unset = UNSET,
    actor: User,
) -> Board:
    ensure_can_write(actor, board)
    _hold_board(board.pk)
    changed = []
    if release_done_after_days is not UNSET:
        if release_done_after_days is not None and not 1 <= release_done_after_days <= 365:
            raise InvalidInput(
                "Release finished cards after 1 to 365 days, or never.",
                fields={"release_done_after_days": ["Between 1 and 365, or null."]},
            )
        if release_done_after_days != board.release_done_after_days:
            board.release_done_after_days = release_done_after_days
            changed.append("release_done_after_days")
    if no_done_while_waiting is not UNSET and no_done_while_waiting != board.no_done_while_waiting:
        board.no_done_while_waiting = no_done_while_waiting
        changed.append("no_done_while_waiting")
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
                    "release_done_after_days": board.release_done_after_days,
                    "no_done_while_waiting": board.no_done_while_waiting,
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
        assert actor is not None, "only an import's clean-up deletes without an actor"
        ensure_manager(actor, board)
    elif partial_import.board_id != board.pk or partial_import.status != ImportStatus.RUNNING:
        raise Forbidden("Only the running import that built a board may delete it this way.")
    list(Column.objects.select_for_update().filter(board=board).order_by("pk").values("pk"))
    if Board.objects.select_for_update().filter(pk=board.pk).values_list("pk").first() is None:
        raise NotFound("Board not found.")
    # Cards protect their columns and swimlanes; remove the cards first.
    Card.objects.filter(board=board).delete()
    board_deleted(board)
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
    if isinstance(wip_limit, int) and wip_limit < 1:
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


def _save_changes(obj: Column | Swimlane | Label, values: dict[str, Any]) -> list[str]:
    """Set the fields given (not UNSET) whose value differs, and save those: their names, in
    the order given. The caller holds the row's lock."""
    changed = [field for field, value in values.items() if value is not UNSET]
    changed = [field for field in changed if getattr(obj, field) != values[field]]
    for field in changed:
        setattr(obj, field, values[field])
    if changed:
        obj.save(update_fields=changed)
    return changed


@transaction.atomic
def update_column(
    column: Column,
    *,
    name: str | Unset = UNSET,
    stage: str | Unset = UNSET,
    position: int | Unset = UNSET,
    wip_limit: int | Unset | None = UNSET,
    wip_policy: str | Unset = UNSET,
    policy: str | Unset = UNSET,
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
    changed = _save_changes(
        column,
        {
            "name": name,
            "stage": stage,
            "wip_limit": wip_limit,
            "wip_policy": wip_policy,
            "policy": policy,
        },
    )
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
    name: str | Unset = UNSET,
    position: int | Unset = UNSET,
    wip_limit: int | Unset | None = UNSET,
    actor: User,
) -> Swimlane:
    board = swimlane.board
    ensure_can_write(actor, board)
    if isinstance(wip_limit, int) and wip_limit < 1:
        raise InvalidInput("A WIP limit is at least 1.", fields={"wip_limit": ["Min 1."]})
    _hold_board(board.pk)
    swimlane = _lock_swimlane(swimlane.pk)
    changed = _save_changes(swimlane, {"name": name, "wip_limit": wip_limit})
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
    _validate_label_color(color)
    _hold_board(board.pk)
    if Label.objects.filter(board=board, name=name).exists():
        raise Conflict(f"The board already has a label {name!r}.", fields={"name": ["Taken."]})
    label = Label.objects.create(board=board, name=name, color=color)
    append_event(
        board.pk, type="label.created", data={"label": label_dict(label)}, actor=actor, at=at
    )
    return label


LABEL_COLOR = re.compile(r"#[0-9a-fA-F]{6}")


def _validate_label_color(color: str) -> None:
    if not LABEL_COLOR.fullmatch(color or ""):
        raise InvalidInput(
            "A label's colour is written #rrggbb, e.g. #2563eb.", fields={"color": ["#rrggbb."]}
        )


@transaction.atomic
def update_label(
    label: Label, *, name: str | Unset = UNSET, color: str | Unset = UNSET, actor: User
) -> Label:
    board = label.board
    ensure_can_write(actor, board)
    if color is not UNSET:
        _validate_label_color(color)
    _hold_board(board.pk)
    locked = Label.objects.select_for_update(no_key=True).filter(pk=label.pk).first()
    if locked is None:
        raise NotFound("Label not found.")
    label = locked
    taken = Label.objects.filter(board=board, name=name).exclude(pk=label.pk)
    if name is not UNSET and name != label.name and taken.exists():
        raise Conflict(f"The board already has a label {name!r}.", fields={"name": ["Taken."]})
    changed = _save_changes(label, {"name": name, "color": color})
    if changed:
        append_event(
            board.pk,
            type="label.updated",
            data={"label": label_dict(label), "changed": changed},
            actor=actor,
        )
    return label


@transaction.atomic
def delete_label(label: Label, *, actor: User) -> None:
    """Delete a label; the cards that carried it simply lose it."""
    board = label.board
    ensure_can_write(actor, board)
    _hold_board(board.pk)
    data = {"label": {"id": label.pk, "name": label.name}}
    if Label.objects.filter(pk=label.pk).delete()[0] == 0:
        raise NotFound("Label not found.")
    append_event(board.pk, type="label.deleted", data=data, actor=actor)


# --- boards from a template ----------------------------------------------------------------------

# The new-board page's choices: (columns as create_board takes them, swimlanes). Limits are
# soft where a team is still learning its capacity, hard where pulling past them hides a queue.
BOARD_TEMPLATES: dict[str, dict[str, Any]] = {
    "default": {
        "title": "Kanban",
        "summary": "Backlog, Ready, Doing, Review, Done: the default board.",
        "columns": [{"name": n, "stage": s} for n, s in DEFAULT_COLUMNS],
        "swimlanes": ("Default",),
    },
    "software": {
        "title": "Software delivery",
        "summary": "From the backlog through development, code review and test to release, "
        "with an Expedite lane.",
        "columns": [
            {"name": "Backlog", "stage": Stage.BACKLOG},
            {"name": "Ready", "stage": Stage.WAIT, "wip_limit": 8},
            {
                "name": "Development",
                "stage": Stage.ACTIVE,
                "wip_limit": 4,
                "wip_policy": WipPolicy.HARD,
                "policy": "Entry: the card has acceptance criteria.",
            },
            {
                "name": "Code review",
                "stage": Stage.WAIT,
                "wip_limit": 3,
                "wip_policy": WipPolicy.HARD,
            },
            {"name": "Test", "stage": Stage.ACTIVE, "wip_limit": 3},
            {"name": "Ready to release", "stage": Stage.WAIT},
            {
                "name": "Done",
                "stage": Stage.DONE,
                "policy": "Definition of done: released, and the customer can use it.",
            },
        ],
        "swimlanes": ("Expedite", "Standard"),
    },
    "support": {
        "title": "Support",
        "summary": "Requests from new through triage and work to resolved, waiting on the "
        "customer kept visible.",
        "columns": [
            {"name": "New", "stage": Stage.BACKLOG},
            {"name": "Triaged", "stage": Stage.WAIT, "policy": "Entry: severity and customer set."},
            {"name": "In progress", "stage": Stage.ACTIVE, "wip_limit": 5},
            {"name": "Waiting on customer", "stage": Stage.WAIT},
            {
                "name": "Resolved",
                "stage": Stage.DONE,
                "policy": "Exit: the customer confirmed the fix.",
            },
        ],
        "swimlanes": ("Expedite", "Standard"),
    },
    "simple": {
        "title": "Simple",
        "summary": "To do, Doing, Done.",
        "columns": [
            {"name": "To do", "stage": Stage.BACKLOG},
            {"name": "Doing", "stage": Stage.ACTIVE, "wip_limit": 3},
            {"name": "Done", "stage": Stage.DONE},
        ],
        "swimlanes": ("Default",),
    },
}


def create_board_from_template(
    *, team: Team, name: str, template: str, description: str = "", actor: User
) -> Board:
    """create_board with one of BOARD_TEMPLATES' columns and swimlanes."""
    spec = BOARD_TEMPLATES.get(template)
    if spec is None:
        raise InvalidInput(
            "Choose one of the board templates.",
            fields={"template": [f"One of {', '.join(BOARD_TEMPLATES)}."]},
        )
    return create_board(
        team=team,
        name=name,
        description=description,
        columns=spec["columns"],
        swimlanes=spec["swimlanes"],
        actor=actor,
    )
