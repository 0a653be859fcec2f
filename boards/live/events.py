"""The per-board event log and the one publisher.

`append_event` is called by the services inside their transaction: it takes the next `seq` from the
board row (an UPDATE ... RETURNING, which also holds the row lock until commit, so two writers
can never take the same seq and a rolled-back change leaves no gap) and writes the Event row.
Publishing to the channel layer happens only from `transaction.on_commit`: viewers never hear
of a change that did not happen. Group sends are at-most-once; a viewer that misses one sees a
gap in `seq` and replays the log (`events_since`), which is what makes delivery complete.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypedDict

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from boards.models import Board, Event
from kanban import sql
from kanban.exceptions import NotFound
from kanban.publisher import send_to_group


def board_group(board_id: int) -> str:
    return f"board.{board_id}"


class ActorData(TypedDict):
    """Who did it, in events and feeds (boards.selectors.PersonData adds the initials)."""

    id: int
    username: str
    name: str


def actor_dict(user) -> ActorData | None:
    if user is None:
        return None
    return {"id": user.id, "username": user.username, "name": user.display_name}


def event_payload(event: Event, actor: ActorData | None) -> dict[str, Any]:
    return {
        "type": event.type,
        "board": event.board_id,
        "seq": event.seq,
        "at": event.at.isoformat(),
        "actor": actor,
        "data": event.data,
    }


_NEXT_SEQ_SQL = f"UPDATE {Board._meta.db_table} SET last_seq = last_seq + 1 WHERE id = %(board)s"
_EVENT_COLUMNS = "board_id, seq, type, at, actor_id, data"
# On Postgres the seq and the event row in one statement (a data-modifying WITH), one round trip
# less for every change of every board; SQLite takes the two statements one after the other.
_APPEND_SQL_POSTGRES = f"""
    WITH next AS ({_NEXT_SEQ_SQL} RETURNING last_seq)
    INSERT INTO {Event._meta.db_table} ({_EVENT_COLUMNS})
    SELECT %(board)s, last_seq, %(type)s, %(at)s, %(actor)s, %(data)s FROM next
    RETURNING id, seq
"""
_INSERT_EVENT_SQL = f"""
    INSERT INTO {Event._meta.db_table} ({_EVENT_COLUMNS})
    VALUES (%(board)s, %(seq)s, %(type)s, %(at)s, %(actor)s, %(data)s) RETURNING id, seq
"""


def _insert_event(values: dict[str, Any]) -> tuple[int, int]:
    """Take the board's next seq and write the event; return (id, seq).

    The UPDATE of the board row takes its lock for the rest of the transaction: two writers
    can never take the same seq, and a rolled-back change leaves no gap. Services lock columns
    and cards first and the board last, so the lock order is always columns (by id) -> card ->
    board."""
    if connection.vendor == "postgresql":
        row = sql.fetch_one(_APPEND_SQL_POSTGRES, values)
    else:
        seq = sql.fetch_one(_NEXT_SEQ_SQL + " RETURNING last_seq", values)
        row = sql.fetch_one(_INSERT_EVENT_SQL, {**values, "seq": seq[0]}) if seq else None
    if row is None:  # deleted (a service that holds no lock on it found out only here)
        raise NotFound("Board not found.")
    return row


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
    at = at or timezone.now()
    actor_id = actor.pk if actor is not None else None
    event_id, seq = _insert_event(
        {
            "board": board_id,
            "type": type,
            "at": sql.prepare(Event, "at", at),
            "actor": actor_id,
            "data": sql.prepare(Event, "data", data),
        }
    )
    event = Event(
        id=event_id, board_id=board_id, seq=seq, type=type, at=at, actor_id=actor_id, data=data
    )
    if settings.PUBLISH_EVENTS:
        payload = event_payload(event, actor_dict(actor))
        transaction.on_commit(lambda: publish(board_id, payload))
    return event


_TAKE_SEQS_SQL = (
    f"UPDATE {Board._meta.db_table} SET last_seq = last_seq + %(n)s WHERE id = %(board)s "
    "RETURNING last_seq"
)


def append_events(
    board_id: int,
    events: Sequence[tuple[str, dict[str, Any], datetime | None]],
    *,
    actor,
) -> list[Event]:
    """append_event for many (type, data, at) events of one batch change, in order: their seqs
    taken from the board row at once (one UPDATE, holding its lock until commit, as
    append_event does) and their rows written in one INSERT; published after commit."""
    if not connection.in_atomic_block:
        raise RuntimeError("append_events must run inside the transaction of its change")
    if not events:
        return []
    now = timezone.now()
    row = sql.fetch_one(_TAKE_SEQS_SQL, {"n": len(events), "board": board_id})
    if row is None:
        raise NotFound("Board not found.")
    first = row[0] - len(events) + 1
    actor_id = actor.pk if actor is not None else None
    rows = Event.objects.bulk_create(
        Event(
            board_id=board_id,
            seq=first + i,
            type=type,
            at=at or now,
            actor_id=actor_id,
            data=data,
        )
        for i, (type, data, at) in enumerate(events)
    )
    if settings.PUBLISH_EVENTS:
        actor_data = actor_dict(actor)
        payloads = [event_payload(event, actor_data) for event in rows]

        def publish_all() -> None:
            for payload in payloads:
                publish(board_id, payload)

        transaction.on_commit(publish_all)
    return rows


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
