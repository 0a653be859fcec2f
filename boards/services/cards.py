"""Cards: create, edit, block and unblock (the andon cord), archive and restore, delete, comment."""

from collections.abc import Sequence
from datetime import date, datetime

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from boards.live.events import append_event
from boards.markdown import COMMENT_MAX, DESCRIPTION_MAX
from boards.models import (
    Block,
    Board,
    Card,
    CardMove,
    CardWait,
    ClassOfService,
    Column,
    Comment,
    Label,
    Stage,
    Swimlane,
)
from boards.selectors import (
    card_as_dict,
    comment_dict,
)
from boards.services.access import ensure_can_write
from boards.services.rules import (
    _add_to_cell,
    _after_change,
    _cell_size,
    _check_wip,
    _clamp_position,
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
from kanban.exceptions import Conflict, InvalidInput
from kanban.sentinels import UNSET, Unset

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
    if CardWait.objects.filter(card=card, ended_at__isnull=True).exists():
        # Its block would end while it still waits: the wait is what to end (boards.services.waits)
        raise Conflict("The card waits on another card: stop waiting on it to unblock it.")
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
    _take_from_cell(card.column_id, card.swimlane_id)
    card.archived, card.rank, card.archived_at, card.updated_at = True, None, at, at
    card.save(update_fields=["archived", "rank", "archived_at", "updated_at"])
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
    card.rank = _rank_at(card.column_id, card.swimlane_id, None)
    _add_to_cell(card.column_id, card.swimlane_id)
    card.archived, card.archived_at, card.updated_at = False, None, at
    card.save(update_fields=["archived", "rank", "archived_at", "updated_at"])
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
