"""The per-board event log and the one publisher.

`append_event` is called by the services inside their transaction: it takes the next `seq` from the
board row (an UPDATE ... RETURNING, which also holds the row lock until commit, so two writers
can never take the same seq and a rolled-back change leaves no gap) and writes the Event row.
Publishing to the channel layer happens only from `transaction.on_commit`: viewers never hear
of a change that did not happen. Group sends are at-most-once; a viewer that misses one sees a
gap in `seq` and replays the log (`events_since`), which is what makes delivery complete.
"""

from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from boards.models import Board, Event
from boards.publisher import send_to_group
from kanban import sql


def board_group(board_id: int) -> str:
    return f"board.{board_id}"


def user_group(user_id: int) -> str:
    """Every websocket of one user: closed together when they log out."""
    return f"user.{user_id}"


def actor_dict(user) -> dict[str, Any] | None:
    if user is None:
        return None
    return {"id": user.id, "username": user.username, "name": user.display_name}


def event_payload(event: Event, actor: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "type": event.type,
        "board": event.board_id,
        "seq": event.seq,
        "at": event.at.isoformat(),
        "actor": actor,
        "data": event.data,
    }


def _next_seq(board_id: int) -> int:
    # F() update with RETURNING in one statement: works on Postgres and SQLite >= 3.35 and takes
    # the board row lock for the rest of the transaction. Services lock columns and cards first
    # and the board last, so the lock order is always columns (by id) -> card -> board.
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Board._meta.db_table} SET last_seq = last_seq + 1 "
            "WHERE id = %s RETURNING last_seq",
            [board_id],
        )
        row = cursor.fetchone()
    if row is None:
        raise Board.DoesNotExist(f"Board {board_id} does not exist")
    return row[0]


def append_event(
    board_id: int,
    *,
    type: str,
    data: dict[str, Any],
    actor,
    at: datetime | None = None,
) -> Event:
    """Append one event to the board's log and publish it after commit.

    Must run inside the transaction of the change it records (it asserts so).
    """
    if not connection.in_atomic_block:
        raise RuntimeError("append_event must run inside the transaction of its change")
    values = {
        "board_id": board_id,
        "seq": _next_seq(board_id),
        "type": type,
        "at": at or timezone.now(),
        "actor_id": actor.pk if actor is not None else None,
        "data": data,
    }
    # Plain SQL (kanban/sql.py): every change of every board appends here.
    event = Event(id=sql.insert(Event, values), **values)
    if settings.PUBLISH_EVENTS:
        payload = event_payload(event, actor_dict(actor))
        transaction.on_commit(lambda: publish(board_id, payload))
    return event


def publish(board_id: int, payload: dict[str, Any]) -> None:
    """Send one committed event to the board's viewers. Never raises: the write has committed,
    and a viewer that misses this send catches up from the log by resync."""
    send_to_group(board_group(board_id), payload)


def events_since(board_id: int, since: int):
    """The board's events after `since`, in seq order, actors joined."""
    return (
        Event.objects.filter(board_id=board_id, seq__gt=since)
        .select_related("actor")
        .order_by("seq")
    )
