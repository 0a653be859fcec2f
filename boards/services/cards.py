"""Cards: create, edit, block and unblock (the andon cord), archive and restore, delete, comment."""

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import User
from boards.live.events import append_event, append_events
from boards.markdown import COMMENT_MAX, DESCRIPTION_MAX
from boards.models import (
    Block,
    Board,
    Card,
    CardChange,
    CardMove,
    CardWait,
    ChangeKind,
    ClassOfService,
    Column,
    Comment,
    Label,
    Stage,
    Swimlane,
)
from boards.selectors import (
    ChangeData,
    card_as_dict,
    cards_as_dicts,
    changes_since,
    comment_dict,
)
from boards.services.access import ensure_can_write
from boards.services.rules import (
    IN_PROGRESS_STAGES,
    _add_to_cell,
    _after_change,
    _cell_size,
    _check_class_wip,
    _check_wip,
    _clamp_position,
    _enters_progress,
    _flow_times,
    _lock_card,
    _lock_card_and_columns,
    _lock_columns,
    _rank_at,
    _record_active_time,
    _rendered,
    _take_from_cell,
    _validate_assignees,
    _validate_card_fields,
    _validate_column,
    _validate_labels,
    _validate_swimlane,
)
from kanban.exceptions import Conflict, InvalidInput, StaleVersion
from kanban.sentinels import UNSET, Unset

# --- versions --------------------------------------------------------------------------------

FIELD_NAMES = {
    "title": "the title",
    "description": "the description",
    "assignees": "the assignees",
    "labels": "the labels",
    "value": "the value",
    "customer": "the customer",
    "class_of_service": "the class of service",
    "due_date": "the due date",
    "column": "the column (moved it)",
    "blocked": "the blocker",
    "archived": "whether it is archived",
}


def describe_changes(changes: Sequence[ChangeData]) -> str:
    """ "bob changed the title and the value; carol changed the column (moved it)" """
    by_person: dict[str, list[str]] = {}
    for change in changes:
        names = by_person.setdefault(change["by"] or "the board's release policy", [])
        name = FIELD_NAMES.get(change["field"], change["field"])
        if name not in names:
            names.append(name)
    return "; ".join(f"{who} changed {' and '.join(fields)}" for who, fields in by_person.items())


def _check_version(card: Card, expected_version: int | None) -> None:
    """Refuse a write made from another version of the card than the locked one (`card`, read
    under its lock, so that two writers from the same version cannot both pass). The error
    carries the card as it is and who changed what since `expected_version`."""
    if expected_version is None or expected_version == card.version:
        return
    changes = changes_since(card.pk, expected_version)
    detail = (
        f"This card changed since you loaded it (version {expected_version}, now "
        f"{card.version})"
        + (f": {describe_changes(changes)}" if changes else "")
        + ". Nothing was saved."
    )
    raise StaleVersion(
        detail,
        extra={"error": detail, "card": card_as_dict(card.pk), "changes": changes},
    )


def _over_limit_data(over_limit: bool, override_reason: str) -> dict[str, Any]:
    """What an edit or a restore past a WIP limit adds to its event (nothing otherwise, so that
    the events of every other edit keep their shape)."""
    if not over_limit:
        return {}
    return {"wip_exceeded": True, "override_reason": override_reason}


def _json_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def _record(
    card: Card,
    kind: str,
    *,
    actor: User | None,
    at: datetime,
    field: str = "",
    old: Any = None,
    new: Any = None,
) -> None:
    """The history row of a change that made the card's current version (card.version)."""
    CardChange.objects.create(
        card=card,
        board_id=card.board_id,
        version=card.version,
        kind=kind,
        field=field,
        old=_json_value(old),
        new=_json_value(new),
        at=at,
        actor=actor,
    )


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
    if _enters_progress(None, column.stage):
        over_limit |= _check_class_wip(
            board.pk, class_of_service, access=access, override_reason=override_reason
        )
    size = _cell_size(column.pk, swimlane.pk)
    position = _clamp_position(position, size)
    card = Card(
        board=board,
        column=column,
        swimlane=swimlane,
        rank=_rank_at(column.pk, swimlane.pk, None if position == size else position),
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
    _add_to_cell(column.pk, swimlane.pk)
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
        version=card.version,
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
    title: str | Unset = UNSET,
    description: str | Unset = UNSET,
    assignees: Sequence[User] | Unset = UNSET,
    labels: Sequence[Label] | Unset = UNSET,
    value: int | Unset = UNSET,
    customer: str | Unset = UNSET,
    class_of_service: str | Unset = UNSET,
    due_date: date | Unset | None = UNSET,
    expected_version: int | None = None,
    override_reason: str = "",
    actor: User,
    at: datetime | None = None,
) -> Card:
    """Edit a card's content. Where it sits is changed by move_card, archive_card and the
    block services, never here.

    With `expected_version`, refuses (StaleVersion, changing nothing) unless the card is still
    at that version. Each field changed gets a history row (CardChange: old and new), and the
    card's version goes up by one for the edit. A card in progress given another class of
    service counts toward that class's WIP limit as if it entered progress: a hard limit
    refuses it (409) unless an owner/admin gives `override_reason`."""
    at = at or timezone.now()
    board = card.board
    access = ensure_can_write(actor, board)
    _validate_card_fields(value=value, class_of_service=class_of_service)
    if description is not UNSET:
        description_html = _rendered(description, limit=DESCRIPTION_MAX, field="description")
    # Columns, card, then the class's ServiceLevel row, as a move: no column lock is needed
    # here (the card's lock keeps it in its column), and whether the board has class limits
    # rides on the card's lock, so that a board without them pays no statement more.
    card = _lock_card(card.pk, card.board_id, class_limits=class_of_service is not UNSET)
    _check_version(card, expected_version)
    over_limit = False
    if (
        class_of_service is not UNSET
        and class_of_service != card.class_of_service
        and card.class_limited  # type: ignore[attr-defined]  # annotated by _lock_card
        and not card.archived
        and card.column_stage in IN_PROGRESS_STAGES  # type: ignore[attr-defined]
    ):
        over_limit = _check_class_wip(
            board.pk, class_of_service, access=access, override_reason=override_reason
        )
    changed: list[str] = []
    before: dict[str, Any] = {}
    for field, new in (
        ("title", title),
        ("value", value),
        ("customer", customer),
        ("class_of_service", class_of_service),
        ("due_date", due_date),
    ):
        if new is not UNSET and getattr(card, field) != new:
            before[field] = getattr(card, field)
            setattr(card, field, new)
            changed.append(field)
    if description is not UNSET and description != card.description:
        before["description"] = card.description
        card.description = description
        card.description_html = description_html
        changed += ["description", "description_html"]
    if assignees is not UNSET:
        new_ids = {u.pk for u in _validate_assignees(board, assignees)}
        old_ids = set(card.assignees.values_list("id", flat=True))
        if new_ids != old_ids:
            card.assignees.set(list(assignees))
            changed.append("assignees")
            before["assignees"] = sorted(old_ids)
    if labels is not UNSET:
        new_ids = {label.pk for label in _validate_labels(board, labels)}
        old_ids = set(card.labels.values_list("id", flat=True))
        if new_ids != old_ids:
            card.labels.set(list(labels))
            changed.append("labels")
            before["labels"] = sorted(old_ids)
    if changed:
        card.updated_at = at
        card.version += 1  # under the card's lock
        card.save(
            update_fields=[f for f in changed if f not in ("assignees", "labels")]
            + ["updated_at", "version"]
        )
        after = {
            "assignees": sorted(u.pk for u in assignees) if assignees is not UNSET else None,
            "labels": sorted(label.pk for label in labels) if labels is not UNSET else None,
        }
        CardChange.objects.bulk_create(
            CardChange(
                card=card,
                board_id=board.pk,
                version=card.version,
                kind=ChangeKind.EDITED,
                field=field,
                old=_json_value(old),
                new=_json_value(after[field] if field in after else getattr(card, field)),
                at=at,
                actor=actor,
            )
            for field, old in before.items()
        )
        append_event(
            board.pk,
            type="card.updated",
            data={
                "card": card_as_dict(card.pk),
                "changed": [f for f in changed if f != "description_html"],
                **_over_limit_data(over_limit, override_reason),
            },
            actor=actor,
            at=at,
        )
    _after_change(board.pk)
    return card


@transaction.atomic
def block_card(
    card: Card,
    *,
    reason: str,
    expected_version: int | None = None,
    actor: User,
    at: datetime | None = None,
) -> Block:
    """Pull the andon cord: mark the card blocked, with why, from `at` until unblocked."""
    at = at or timezone.now()
    ensure_can_write(actor, card.board)
    reason = reason.strip()
    if not reason:
        raise InvalidInput("Say why the card is blocked.", fields={"reason": ["Required."]})
    card = _lock_card(card.pk, card.board_id)
    _check_version(card, expected_version)
    if card.blocked:
        raise Conflict("The card is already blocked.")
    block = Block.objects.create(
        card=card, board_id=card.board_id, reason=reason, started_at=at, blocked_by=actor
    )
    card.blocked, card.block_reason, card.updated_at = True, reason, at
    card.version += 1
    card.save(update_fields=["blocked", "block_reason", "updated_at", "version"])
    _record(card, ChangeKind.BLOCKED, actor=actor, at=at, field="blocked", new=reason)
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
def unblock_card(
    card: Card, *, expected_version: int | None = None, actor: User, at: datetime | None = None
) -> Block:
    at = at or timezone.now()
    ensure_can_write(actor, card.board)
    card = _lock_card(card.pk, card.board_id)
    _check_version(card, expected_version)
    block = Block.objects.filter(card=card, ended_at__isnull=True).first()
    if not card.blocked or block is None:
        raise Conflict("The card is not blocked.")
    if CardWait.objects.filter(card=card, ended_at__isnull=True).exists():
        # Its block would end while it still waits: the wait is what to end (boards.services.waits)
        raise Conflict("The card waits on another card: stop waiting on it to unblock it.")
    block.ended_at = max(at, block.started_at)
    block.unblocked_by = actor
    block.save(update_fields=["ended_at", "unblocked_by"])
    card.blocked, card.block_reason, card.updated_at = False, "", at
    card.version += 1
    card.save(update_fields=["blocked", "block_reason", "updated_at", "version"])
    _record(card, ChangeKind.UNBLOCKED, actor=actor, at=at, field="blocked", old=block.reason)
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
def archive_card(
    card: Card, *, expected_version: int | None = None, actor: User, at: datetime | None = None
) -> Card:
    """Take a card off the board (it stops counting toward WIP); its history is kept."""
    at = at or timezone.now()
    ensure_can_write(actor, card.board)
    card, _ = _lock_card_and_columns(card)
    _check_version(card, expected_version)
    if card.archived:
        return card
    _take_from_cell(card.column_id, card.swimlane_id)
    card.archived, card.rank, card.archived_at, card.updated_at = True, None, at, at
    card.version += 1
    card.save(update_fields=["archived", "rank", "archived_at", "updated_at", "version"])
    _record(card, ChangeKind.ARCHIVED, actor=actor, at=at)
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
def restore_card(
    card: Card,
    *,
    expected_version: int | None = None,
    override_reason: str = "",
    actor: User,
    at: datetime | None = None,
) -> Card:
    """Put an archived card back at the end of its cell, if its column has room, and its class
    of service too when the column is a wait or active one (owners and admins may pass a hard
    limit with `override_reason`)."""
    at = at or timezone.now()
    access = ensure_can_write(actor, card.board)
    card, columns = _lock_card_and_columns(card, class_limits=True)
    _check_version(card, expected_version)
    if not card.archived:
        return card
    column = columns[card.column_id]
    over_limit = _check_wip(column, incoming=1, access=access, override_reason=override_reason)
    if card.class_limited and column.stage in IN_PROGRESS_STAGES:  # type: ignore[attr-defined]
        over_limit |= _check_class_wip(
            card.board_id, card.class_of_service, access=access, override_reason=override_reason
        )
    card.rank = _rank_at(card.column_id, card.swimlane_id, None)
    _add_to_cell(card.column_id, card.swimlane_id)
    card.archived, card.archived_at, card.updated_at = False, None, at
    card.version += 1
    card.save(update_fields=["archived", "rank", "archived_at", "updated_at", "version"])
    _record(card, ChangeKind.RESTORED, actor=actor, at=at)
    append_event(
        card.board_id,
        type="card.restored",
        data={"card": card_as_dict(card.pk), **_over_limit_data(over_limit, override_reason)},
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
        _take_from_cell(card.column_id, card.swimlane_id)
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


# --- the release policy: finished cards off the board after N days ----------------------------

RELEASE_BATCH = 200


@transaction.atomic
def release_done_cards(
    board: Board, *, at: datetime | None = None, limit: int = RELEASE_BATCH
) -> int:
    """The board's release policy: archive up to `limit` of its live cards that finished more
    than `release_done_after_days` days before `at` (none when the board has no policy), as
    archive_card does each (the cell's count, a version, a history row, a `card.archived`
    event with `"reason": "release_policy"`), in a few statements for the whole batch.

    The board's own rule, not a person's: no actor and no access check (its writers set the
    policy). Locks the cards' columns in id order, then the cards in id order, then the board
    row (the events), the services' one order. Returns how many it archived: the task calls it
    again until fewer than `limit`."""
    at = at or timezone.now()
    days = (
        Board.objects.filter(pk=board.pk).values_list("release_done_after_days", flat=True).first()
    )
    if not days:
        return 0
    due = Card.objects.filter(
        board_id=board.pk, archived=False, finished_at__lt=at - timedelta(days=days)
    )
    column_ids = set(due.values_list("column_id", flat=True).distinct())
    if not column_ids:
        return 0
    _lock_columns(column_ids)
    # Read again under the column locks: only cards of the locked columns (one moved in since
    # waits for the next run), still due.
    cards = list(
        due.filter(column_id__in=column_ids).select_for_update(no_key=True).order_by("id")[:limit]
    )
    if not cards:
        return 0
    cells: dict[tuple[int, int], int] = {}
    for card in cards:
        cells[card.column_id, card.swimlane_id] = (
            cells.get((card.column_id, card.swimlane_id), 0) + 1
        )
    for (column_id, swimlane_id), n in cells.items():
        _take_from_cell(column_id, swimlane_id, n)
    ids = [card.pk for card in cards]
    Card.objects.filter(pk__in=ids).update(
        archived=True, rank=None, archived_at=at, updated_at=at, version=F("version") + 1
    )
    CardChange.objects.bulk_create(
        CardChange(
            card_id=card.pk,
            board_id=board.pk,
            version=card.version + 1,
            kind=ChangeKind.ARCHIVED,
            at=at,
            actor=None,
        )
        for card in cards
    )
    append_events(
        board.pk,
        [
            ("card.archived", {"card": data, "reason": "release_policy"}, at)
            for data in cards_as_dicts(Card.objects.filter(pk__in=ids).order_by("id"))
        ],
        actor=None,
    )
    _after_change(board.pk)
    return len(cards)
