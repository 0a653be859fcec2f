"""Waiting on other teams: a card waits on a card of any board of its organisation.

A wait blocks the waiting card through the andon cord's own Block (blocked time counts it) and
ends by hand (`end_wait`) or when the card waited on is finished (`end_waits_on_finished`,
queued by the move after its commit: see boards/services/moves.py). Every wait change is
serialised per organisation by a lock on the organisation's row, taken first: the cycle check
reads the whole chain of open waits, and two additions checked at once could otherwise close a
cycle that neither saw. Then the cards, in id order, then the boards' rows (their event logs),
in id order: every writer of waits locks in this one order, so none deadlocks with another,
and none takes a column lock, so none waits on a move that waits on it.
"""

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from accounts.models import Organization, User
from boards.live.events import append_event
from boards.models import Block, Card, CardWait, Stage, WaitEnd
from boards.selectors import card_as_dict
from boards.selectors.waits import wait_event_dict, would_cycle
from boards.services.access import ensure_can_write
from boards.services.rules import _after_change, _hold_board
from kanban.exceptions import Conflict, InvalidInput, NotFound, WaitCycle

WAIT_REASON_PREFIX = "Waiting on"


def _lock_organization(organization_id: int) -> None:
    # FOR NO KEY UPDATE: rows that refer to the organisation (new boards, memberships) can
    # still be inserted meanwhile; only the wait writers queue here.
    Organization.objects.select_for_update(no_key=True).filter(pk=organization_id).exists()


def _lock_cards(card_ids: list[int], board_ids: list[int]) -> dict[int, Card]:
    for board_id in sorted(set(board_ids)):
        _hold_board(board_id)
    # The lock alone first: a locking statement that joined the column would lose a card whose
    # column a move changed while it waited for the lock (Postgres re-checks the join against
    # the card's new row). What the lock protects is read after it, by a statement that sees
    # the last commit.
    locked = list(
        Card.objects.select_for_update(no_key=True)
        .filter(pk__in=card_ids)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    cards = {
        card.pk: card
        for card in Card.objects.select_related("column", "board__team").filter(pk__in=locked)
    }
    if len(cards) != len(set(card_ids)):
        raise NotFound("Card not found.")
    return cards


def wait_reason(on_card: Card) -> str:
    """The block's reason: the team, not the card, because everyone who sees the waiting card
    reads it, and only those who may see the other board are shown which card it is."""
    return f"{WAIT_REASON_PREFIX} a card of {on_card.board.team.name}"


def _events(wait: CardWait, kind: str, *, actor: User | None, at: datetime) -> None:
    """`card.wait_added` / `card.wait_ended` on both boards, in board id order (the lock order),
    each with its own board's card named in `card`."""
    targets = {wait.board_id: wait.card_id}
    targets.setdefault(wait.on_board_id, wait.on_card_id)
    for board_id in sorted(targets):
        append_event(
            board_id,
            type=f"card.wait_{kind}",
            data={"card": targets[board_id], "wait": wait_event_dict(wait, board_id)},
            actor=actor,
            at=at,
        )


@transaction.atomic
def add_wait(card: Card, *, on: Card, actor: User, at: datetime | None = None) -> CardWait:
    """Make `card` wait on `on` (a card of any board of the same organisation): the card is
    blocked ("Waiting on a card of <team>") until the wait ends. Refused: waiting on itself, on
    a card of another organisation (not found), on a finished or archived card, twice on the
    same card, or anything that closes a cycle of waits."""
    at = at or timezone.now()
    ensure_can_write(actor, card.board)
    organization_id = card.board.organization_id
    if on.pk == card.pk:
        raise InvalidInput("A card cannot wait on itself.", fields={"on": ["Not this card."]})
    _lock_organization(organization_id)
    cards = _lock_cards([card.pk, on.pk], [card.board_id, on.board_id])
    card, on = cards[card.pk], cards[on.pk]
    if on.board.organization_id != organization_id:
        raise NotFound("Card not found.")
    if card.archived:
        raise Conflict("The card is archived: restore it before it waits on another.")
    if on.archived or on.column.stage == Stage.DONE:
        state = "archived" if on.archived else "finished"
        raise InvalidInput(
            f"That card is {state}: there is nothing to wait for.",
            fields={"on": [f"The card is {state}."]},
        )
    if CardWait.objects.filter(card=card, on_card=on, ended_at__isnull=True).exists():
        raise Conflict("The card already waits on that card.")
    if would_cycle(card.pk, on.pk):
        raise WaitCycle(
            "That would make a cycle: the other card already waits, directly or through other "
            "cards, on this one.",
            fields={"on": ["Waiting on it would close a cycle of waits."]},
        )
    block = None
    if not card.blocked:
        reason = wait_reason(on)
        block = Block.objects.create(
            card=card, board_id=card.board_id, reason=reason, started_at=at, blocked_by=actor
        )
        card.blocked, card.block_reason, card.updated_at = True, reason, at
        card.save(update_fields=["blocked", "block_reason", "updated_at"])
    wait = CardWait.objects.create(
        organization_id=organization_id,
        card=card,
        on_card=on,
        board_id=card.board_id,
        on_board_id=on.board_id,
        block=block,
        started_at=at,
        created_by=actor,
    )
    if block is not None:
        append_event(
            card.board_id,
            type="card.blocked",
            data={"card": card_as_dict(card.pk), "reason": block.reason},
            actor=actor,
            at=at,
        )
    _events(wait, "added", actor=actor, at=at)
    _after_change(card.board_id)
    return wait


def _close(wait: CardWait, card: Card, *, reason: str, actor: User | None, at: datetime) -> None:
    """End one open wait of `card` (locked); unblock the card when it was its last open wait
    and the block is one a wait put on it (a block pulled by hand stays)."""
    wait.ended_at = max(at, wait.started_at)
    wait.ended_by, wait.ended_reason = actor, reason
    wait.save(update_fields=["ended_at", "ended_by", "ended_reason"])
    if card.blocked and not CardWait.objects.filter(card=card, ended_at__isnull=True).exists():
        block = Block.objects.filter(card=card, ended_at__isnull=True).first()
        if block is not None and CardWait.objects.filter(card=card, block=block).exists():
            block.ended_at = max(wait.ended_at, block.started_at)
            block.unblocked_by = actor
            block.save(update_fields=["ended_at", "unblocked_by"])
            card.blocked, card.block_reason, card.updated_at = False, "", at
            card.save(update_fields=["blocked", "block_reason", "updated_at"])
            append_event(
                card.board_id,
                type="card.unblocked",
                data={
                    "card": card_as_dict(card.pk),
                    "reason": block.reason,
                    "blocked_days": round(
                        (block.ended_at - block.started_at).total_seconds() / 86_400, 3
                    ),
                },
                actor=actor,
                at=at,
            )
    _events(wait, "ended", actor=actor, at=at)
    _after_change(card.board_id)


@transaction.atomic
def end_wait(wait: CardWait, *, actor: User, at: datetime | None = None) -> CardWait:
    """Stop waiting by hand (the waiting card's board's writers may). Ending an ended wait
    changes nothing."""
    at = at or timezone.now()
    card = wait.card
    ensure_can_write(actor, card.board)
    _lock_organization(wait.organization_id)
    cards = _lock_cards([wait.card_id], [wait.board_id])
    wait = CardWait.objects.select_for_update(no_key=True).get(pk=wait.pk)
    if wait.ended_at is None:
        _close(wait, cards[wait.card_id], reason=WaitEnd.REMOVED, actor=actor, at=at)
    return wait


@transaction.atomic
def end_waits_on_finished(card_id: int, *, actor: User | None) -> list[CardWait]:
    """End every open wait on the card if it is finished (in a done column), at its finish
    time, so that the dependency wait measured is the upstream's own: not how long a worker
    took to get here. Idempotent (a redelivered task finds nothing open) and re-checked under
    the locks (a card reopened meanwhile keeps its waiters waiting).

    No right is checked: it is the consequence of a move the mover was allowed to make, and the
    waiting cards' boards hear it from that mover."""
    on = Card.objects.select_related("board").filter(pk=card_id).first()
    if on is None:
        return []
    _lock_organization(on.board.organization_id)
    waits = list(CardWait.objects.filter(on_card_id=card_id, ended_at__isnull=True).order_by("pk"))
    if not waits:
        return []
    cards = _lock_cards(
        [card_id, *(w.card_id for w in waits)], [on.board_id, *(w.board_id for w in waits)]
    )
    on = cards[card_id]
    if on.finished_at is None or on.column.stage != Stage.DONE:
        return []
    ended = []
    for wait in (
        CardWait.objects.select_for_update(no_key=True)
        .filter(on_card_id=card_id, ended_at__isnull=True)
        .order_by("pk")
    ):
        _close(wait, cards[wait.card_id], reason=WaitEnd.FINISHED, actor=actor, at=on.finished_at)
        ended.append(wait)
    return ended


def finished_waited_on(limit: int = 500) -> list[int]:
    """Finished cards that open waits are still on (their end_waits task was lost)."""
    return list(
        CardWait.objects.filter(
            ended_at__isnull=True,
            on_card__finished_at__isnull=False,
            on_card__column__stage=Stage.DONE,
        )
        .values_list("on_card_id", flat=True)
        .distinct()
        .order_by("on_card_id")[:limit]
    )
