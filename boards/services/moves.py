"""The move: the hot path, in plain SQL (kanban/sql.py)."""

import functools
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from accounts.models import MANAGER_ROLES, Membership, Role, TeamMembership, User
from accounts.selectors import Access
from boards.flow import followups
from boards.flow.metrics import active_seconds_of, card_flow_statement
from boards.live.events import APPEND_RETURNS, NewEvent, append_with
from boards.models import (
    Board,
    Card,
    CardMove,
    CardWait,
    Cell,
    Column,
    ServiceLevel,
    Stage,
    Swimlane,
    WipPolicy,
)
from boards.selectors import (
    CARD_FIELDS,
    card_as_dict,
    card_dict_of,
    get_card_for_user,
    last_move,
    not_on_board,
    relation_ids_sql,
    resolve_column,
    resolve_swimlane,
)
from boards.services.access import ensure_can_write
from boards.services.rules import (
    _add_to_cell,
    _after_change,
    _between,
    _CardChangedColumn,
    _check_class_wip,
    _check_wip,
    _clamp_position,
    _enters_progress,
    _flow_times,
    _rank_at,
    _take_from_cell,
)
from kanban import sql
from kanban.exceptions import Conflict, Forbidden, NotFound, StillWaiting

# --- the move: the hot path, in plain SQL (kanban/sql.py) -----------------------------------
# A move is the write every viewer and script makes all day; it is written as a handful of
# portable statements so that the locks it holds are held for as short a time as possible.

_CARD, _COLUMN, _SWIMLANE = Card._meta.db_table, Column._meta.db_table, Swimlane._meta.db_table
_BOARD, _CELL = Board._meta.db_table, Cell._meta.db_table
# Whether the card's class of service has a WIP limit on its board rides on the locking
# statement, so that a board without such limits pays no statement for them.
_SERVICE_LEVEL = ServiceLevel._meta.db_table
_WAIT = CardWait._meta.db_table
_MEMBERSHIP, _TEAM_MEMBERSHIP = Membership._meta.db_table, TeamMembership._meta.db_table
# In the model's field order, which Model.from_db (kanban.sql.instance) maps values by.
_LOCKED_CARD_FIELDS = tuple(
    f.attname
    for f in Card._meta.concrete_fields
    if f.attname in {*CARD_FIELDS, "flow_active_seconds"}
)
_LOCKED_COLUMN_FIELDS = ("id", "board_id", "name", "stage", "wip_limit", "wip_policy")
# The keys of a move's history row (_move_card's `history`), in its INSERT's order.
_HISTORY_FIELDS = (
    "card_id",
    "board_id",
    "from_column_id",
    "to_column_id",
    "from_swimlane_id",
    "to_swimlane_id",
    "from_stage",
    "to_stage",
    "position",
    "at",
    "actor_id",
    "override_reason",
    "version",
)
# The history row a move writes sorts after every row before it at the same instant.
_AFTER_EVERY_ID = 2**63


@functools.cache
def _move_sql(vendor: str, at_index: bool) -> tuple[str, str, str, str]:
    """The move's statements, built once per database vendor (they lock rows and aggregate ids,
    which the vendors spell differently) and per kind of place asked for: an index in the
    target cell, or its end. The first three go to the database together (one round trip on
    Postgres, kanban.sql.fetch_many); the last is, on Postgres, every write of the move."""
    managers = ", ".join(f"'{role}'" for role in sorted(MANAGER_ROLES))
    # The membership `m` of an actor who may change the board `b` (the rule of
    # accounts.selectors.Access.can_write): the locking statements lock nothing for anyone
    # else, and _why_not_movable says why.
    may_write = f"""m.organization_id = b.organization_id AND m.user_id = %(actor)s AND (
            m.role IN ({managers})
            OR (m.role = '{Role.MEMBER}' AND EXISTS (
                SELECT 1 FROM {_TEAM_MEMBERSHIP} t
                WHERE t.team_id = b.team_id AND t.user_id = %(actor)s)))"""
    # Both columns, locked in id order.
    lock_columns = f"""
        SELECT {sql.columns(Column, _LOCKED_COLUMN_FIELDS, alias="k")}, m.role,
            EXISTS (SELECT 1 FROM {_SWIMLANE} s WHERE s.id = %(lane)s AND s.board_id = c.board_id),
            EXISTS (SELECT 1 FROM {_SERVICE_LEVEL} v WHERE v.board_id = c.board_id
                    AND v.class_of_service = c.class_of_service AND v.wip_limit IS NOT NULL),
            b.no_done_while_waiting
        FROM {_CARD} c
        JOIN {_BOARD} b ON b.id = c.board_id
        JOIN {_MEMBERSHIP} m ON {may_write}
        JOIN {_COLUMN} k ON k.board_id = c.board_id AND k.id IN (c.column_id, %(column)s)
        WHERE c.id = %(card)s
        ORDER BY k.id{sql.lock_clause(of="k")}
    """
    # The ranks around the place asked for in the target cell, not counting the card: at an
    # index, the ranks at index - 1 (past the end: the last one) and at index (none past the
    # end); at the end, the last rank. A rank is a look-up in the (column, swimlane, rank)
    # index: at the ends one probe, at an index a walk to it.
    target = (
        f"FROM {_CARD} x WHERE x.column_id = %(to_column)s"
        " AND x.swimlane_id = COALESCE(%(to_lane)s, c.swimlane_id)"
        " AND x.rank IS NOT NULL AND x.id <> c.id ORDER BY x.rank"
    )
    last = f"(SELECT x.rank {target} DESC LIMIT 1)"
    if at_index:
        neighbours = (
            f"CASE WHEN %(index)s = 0 THEN NULL ELSE COALESCE("
            f"(SELECT x.rank {target} LIMIT 1 OFFSET %(index_before)s), {last}) END, "
            f"(SELECT x.rank {target} LIMIT 1 OFFSET %(index)s)"
        )
    else:
        neighbours = f"{last}, NULL"
    # Begun after the columns' statement has their locks (every change to the cards of a
    # column takes its lock first), so what it reads of the cells cannot change until this
    # transaction commits, whatever the card's own lock waits for. The target column's WIP and
    # its cell's size come from the cells' counts (a row or two, however many cards); the
    # card's index in its cell costs that index (an index range up to it: the event's
    # `from_position`).
    lock_card = f"""
        SELECT {sql.columns(Card, _LOCKED_CARD_FIELDS, alias="c")},
            (SELECT COALESCE(SUM(size), 0) FROM {_CELL} WHERE column_id = %(to_column)s),
            (SELECT COALESCE(SUM(size), 0) FROM {_CELL} WHERE column_id = %(to_column)s
             AND swimlane_id = COALESCE(%(to_lane)s, c.swimlane_id)),
            (SELECT COUNT(*) FROM {_CARD} x
             WHERE x.column_id = c.column_id AND x.swimlane_id = c.swimlane_id
             AND x.rank < c.rank),
            {neighbours}
        FROM {_CARD} c WHERE c.id = %(card)s AND EXISTS (
            SELECT 1 FROM {_BOARD} b JOIN {_MEMBERSHIP} m ON {may_write}
            WHERE b.id = c.board_id){sql.lock_clause(of="c")}
    """
    # The card's assignees and labels, and (for a move into done, boards.services.waits)
    # whether anyone waits on it: a statement of its own, begun after the card's lock, sees
    # the last change another service made to them (not so a subquery of the locking
    # statement, whose snapshot predates the wait for the lock); add_wait locks the card too.
    relations = f"""
        SELECT {relation_ids_sql("%(card)s")}, EXISTS (
            SELECT 1 FROM {_WAIT} w WHERE w.on_card_id = %(card)s AND w.ended_at IS NULL)
    """
    set_card = f"""
        UPDATE {_CARD} SET column_id = %(column)s, swimlane_id = %(lane)s,
            rank = %(rank)s, committed_at = %(committed_at)s,
            started_at = %(started_at)s, finished_at = %(finished_at)s,
            flow_active_seconds = %(active)s, updated_at = %(at)s, version = %(version)s
        WHERE id = %(card)s"""
    place_card = set_card
    if vendor == "postgresql":
        # Every write in one statement (data-modifying WITH queries): the history row, the two
        # cells' counts (`%(across)s` when the card changes cells), the card, and the board's
        # seq and event (events.append_with), in that order: each query reads the one before
        # it, which makes Postgres run them so (it is free to pick otherwise), and the board's
        # lock, which every writer of the board waits for, is taken last and held from there
        # to the commit only, as every writer takes it. SQLite has no such queries: the
        # service writes apart, in the same order.
        place_card = f"""
        WITH history AS ({sql.named_insert(CardMove, _HISTORY_FIELDS, "history_")}),
        taken AS (
            UPDATE {_CELL} SET size = size - 1
            WHERE %(across)s AND column_id = %(from_column)s AND swimlane_id = %(from_lane)s
            RETURNING 1
        ), put AS (
            INSERT INTO {_CELL} (column_id, swimlane_id, size)
            SELECT %(column)s, %(lane)s, 1 WHERE %(across)s
            AND (SELECT COUNT(*) FROM taken) >= 0
            ON CONFLICT (column_id, swimlane_id) DO UPDATE SET size = {_CELL}.size + 1
            RETURNING 1
        ), placed AS (
            {set_card} AND (SELECT COUNT(*) FROM put) >= 0
            RETURNING id
        ),
        {append_with("EXISTS (SELECT 1 FROM placed)")}
        SELECT history.id, {APPEND_RETURNS} FROM history, placed, added, next
        """
    return lock_columns, lock_card, relations, place_card  # (and on Postgres, every write)


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


def _moved_meanwhile(card: Card, column_name: str) -> None:
    """Raise the 409 of a move made from a stale board: the card left the column the client
    saw it in. Only on this path: a move that goes through reads nothing more."""
    move = last_move(card.pk)
    who = move.actor.username if move and move.actor else "someone"
    when = f" at {move.at.isoformat(timespec='seconds')}" if move else ""
    detail = f"The card was moved to {column_name} by {who}{when}: nothing was changed."
    changes = (
        [
            {
                "field": "column",
                "kind": "moved",
                "by": move.actor.username if move.actor else None,
                "at": move.at.isoformat(),
                "version": move.version,
                "new": column_name,
            }
        ]
        if move
        else []
    )
    raise Conflict(
        detail, extra={"error": detail, "card": card_as_dict(card.pk), "changes": changes}
    )


def _pk(obj: Any) -> int:
    return obj if isinstance(obj, int) else obj.pk


def move_card(
    card: Card | int,
    *,
    to_column: Column | int,
    position: int | None = None,
    swimlane: Swimlane | int | None = None,
    override_reason: str = "",
    expected_column: Column | int | None = None,
    actor: User,
    at: datetime | None = None,
) -> CardMove | None:
    """Move a card to `position` (default: the end) of (to_column, swimlane).

    With `expected_column`, refuses (Conflict, changing nothing) when the card is no longer in
    that column: a drag made on a stale board does not undo a colleague's move; the error says
    who moved it where.

    Locks both columns in id order, then the card, so that a hard WIP limit holds however many
    moves race for the last slot, and every cell's ranks and count stay right. The card takes
    a rank between its new neighbours': no other card is renumbered, so a move costs the same
    in a cell of 50 cards or 50,000 (but for an index deep in a cell, which costs its depth).
    Writes the history row and the board's `card.moved` event in the same transaction. Returns
    the history row, or None when the card already sits exactly there (nothing changes, no event).

    `card`, `to_column` and `swimlane` may be instances or ids: only their ids are used, and
    everything about them is read afresh (the API passes the ids of the request as they are).
    """
    if position is not None:
        _clamp_position(position, 0)  # refuses a negative one before any statement uses it
    while True:
        try:
            return _move_card(
                _pk(card),
                to_column_id=_pk(to_column),
                position=position,
                swimlane_id=None if swimlane is None else _pk(swimlane),
                override_reason=override_reason,
                expected_column_id=None if expected_column is None else _pk(expected_column),
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
    expected_column_id: int | None,
    actor: User,
    at: datetime,
) -> CardMove | None:
    lock_columns, lock_card, relations, write = _move_sql(connection.vendor, position is not None)
    params: dict[str, Any] = {
        "actor": actor.pk,
        "column": to_column_id,
        "lane": swimlane_id,
        "card": card_id,
        "to_column": to_column_id,
        "to_lane": swimlane_id,
    }
    if position is not None:
        params.update(index=position, index_before=max(position - 1, 0))
    # The card's column and the target column locked in id order, then the card, then its
    # relations read: one round trip, the statements run in this order.
    rows, card_rows, ((assignees, labels, waited_on),) = sql.fetch_many(
        [(lock_columns, params), (lock_card, params), (relations, params)]
    )
    if not rows:
        _why_not_movable(card_id, to_column_id=to_column_id, swimlane_id=swimlane_id, actor=actor)
    n = len(_LOCKED_COLUMN_FIELDS)
    columns = {
        column.pk: column
        for column in (sql.instance(Column, _LOCKED_COLUMN_FIELDS, row[:n]) for row in rows)
    }
    role, swimlane_on_board, class_limited, no_done_while_waiting = rows[0][n:]
    if to_column_id not in columns:
        raise not_on_board("column", to_column_id)
    if swimlane_id is not None and not swimlane_on_board:
        raise not_on_board("swimlane", swimlane_id)
    access = Access(role=role, on_team=True)  # a member found here is on the board's team
    if override_reason and not access.is_manager:
        raise Forbidden("Only an owner or admin can override a hard WIP limit.")
    if not card_rows:
        raise NotFound("Card not found.")  # deleted meanwhile
    (row,) = card_rows
    card = sql.instance(Card, _LOCKED_CARD_FIELDS, row[: len(_LOCKED_CARD_FIELDS)])
    counts = dict(
        zip(
            ("column", "cell", "index", "before", "after"),
            row[len(_LOCKED_CARD_FIELDS) :],
            strict=True,
        )
    )
    if card.column_id not in columns:
        raise _CardChangedColumn
    if card.archived:
        raise Conflict("The card is archived: restore it before moving it.")
    if expected_column_id is not None and card.column_id != expected_column_id:
        _moved_meanwhile(card, columns[card.column_id].name)
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
    if class_limited and _enters_progress(from_column.stage, to_column.stage):
        # The card's class is locked in by the card's lock: update_card takes it too.
        over_limit |= _check_class_wip(
            board_id, card.class_of_service, access=access, override_reason=override_reason
        )
    if (
        no_done_while_waiting
        and card.blocked  # a waiting card is blocked: nothing more is read for any other
        and to_column.stage == Stage.DONE
        and from_column.stage != Stage.DONE
        and not override_reason
        and CardWait.objects.filter(card_id=card_id, ended_at__isnull=True).exists()
    ):
        raise StillWaiting(
            "This board's rule: a card that waits on another card is not done. Remove the "
            "wait, or (owners and admins) give an override reason."
        )
    size = counts["cell"] - (1 if same_cell else 0)  # the cards it goes among
    new_position = _clamp_position(position, size)
    if same_cell and new_position == counts["index"]:
        return None

    old = {"column": card.column_id, "swimlane": card.swimlane_id, "position": counts["index"]}
    # Its new rank, between its new neighbours' (no other card changes place, but for a rare
    # respacing of the target cell when they leave no room).
    rank = _between(counts["before"], counts["after"])
    if rank is None:
        rank = _rank_at(
            to_column_id,
            to_swimlane_id,
            None if new_position == size else new_position,
            leaving=card_id,
        )
    if not same_cell and connection.vendor != "postgresql":  # Postgres: in `write`
        _take_from_cell(card.column_id, card.swimlane_id)
        _add_to_cell(to_column_id, to_swimlane_id)
    card.rank = rank
    card.column_id, card.swimlane_id = to_column_id, to_swimlane_id
    _flow_times(card, from_stage=from_column.stage, to_stage=to_column.stage, at=at)
    card.updated_at = at
    card.version += 1  # under the card's lock; written by `write`
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
        "version": card.version,
    }
    if to_column.stage == Stage.DONE:
        # Flow efficiency's numerator: the card's history, read once, here, and this move.
        flow = sql.fetch_all(*card_flow_statement(card))
        this_move = ("move", at, to_column.stage, None, _AFTER_EVERY_ID)
        card.flow_active_seconds = active_seconds_of(card, [*flow, this_move])
    dt = connection.ops.adapt_datetimefield_value
    # the card's row is there: this transaction holds its lock
    place = {
        "column": to_column_id,
        "lane": to_swimlane_id,
        "rank": card.rank,
        "across": not same_cell,
        "from_column": old["column"],
        "from_lane": old["swimlane"],
        "committed_at": dt(card.committed_at),
        "started_at": dt(card.started_at),
        "finished_at": dt(card.finished_at),
        "active": card.flow_active_seconds,
        "at": dt(at),
        "version": card.version,
        "card": card_id,
    }
    card_data = card_dict_of(card, sql.ids(assignees), sql.ids(labels), position=new_position)
    new_event = NewEvent(
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
    if connection.vendor == "postgresql":
        assert tuple(history) == _HISTORY_FIELDS  # the INSERT names these, in this order
        history_values = sql.named_values(CardMove, history, "history_")
        written = sql.fetch_one(write, {**place, **history_values, **new_event.values()})
        if written is None:  # defensive: delete_board waits for the columns' locks held here
            raise NotFound("Board not found.")
        move_id, event = written[0], new_event.written(written[1:])
    else:
        move_id = sql.insert(CardMove, history)
        sql.execute(write, place)
        event = new_event.write()
    move = CardMove(id=move_id, **history)
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
    if waited_on and to_column.stage == Stage.DONE:
        # The waiting cards are other teams' (their boards, their rows): unblocked by a task
        # after this commit, so that the move holds no lock of theirs and takes no longer.
        followups.after_finish_waited_on(card_id, actor.pk)
    return move
