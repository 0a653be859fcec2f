"""The per-board event log and the one publisher.

`append_event` is called by the services inside their transaction: it takes the next `seq` from the
board row (an UPDATE ... RETURNING, which also holds the row lock until commit, so two writers
can never take the same seq and a rolled-back change leaves no gap) and writes the Event row.
Publishing to the channel layer happens only from `transaction.on_commit`: viewers never hear
of a change that did not happen. Group sends are at-most-once; a viewer that misses one sees a
gap in `seq` and replays the log (`events_since`), which is what makes delivery complete.

The organisation's group (`org.<id>`, the global board's one socket) hears less: one
`board.changed` per board per commit, with the board's last seq after it (`board.created` for
a board's first commit), and `board.deleted` when a board goes. A commit that writes many
events (a batch, an import's chunk) is one message there, not one per event.
"""

from collections.abc import Sequence
from dataclasses import dataclass
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


def org_group(organization_id: int) -> str:
    """Every organisation websocket of one organisation (the global board's)."""
    return f"org.{organization_id}"


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


_NEXT_SEQ_SQL = (
    f"UPDATE {Board._meta.db_table} SET last_seq = last_seq + 1 WHERE id = %(event_board)s"
)
_EVENT_COLUMNS = "board_id, seq, type, at, actor_id, data"
# On Postgres the seq and the event row in one statement (data-modifying WITH queries: `next`
# takes the seq, `added` writes the row), one round trip less for every change of every board;
# SQLite takes the two statements one after the other. The board's organisation comes back
# with them, for the organisation's group. A hot path joins the two queries to a statement of
# its own writes (append_with, NewEvent).
_APPEND_WITH = f"""next AS ({_NEXT_SEQ_SQL} <after> RETURNING last_seq, organization_id),
    added AS (
        INSERT INTO {Event._meta.db_table} ({_EVENT_COLUMNS})
        SELECT %(event_board)s, last_seq, %(event_type)s, %(event_at)s, %(event_actor)s,
            %(event_data)s
        FROM next
        RETURNING id, seq
    )"""
APPEND_RETURNS = "added.id, added.seq, next.organization_id"


def append_with(after: str = "") -> str:
    """The two WITH queries `next` and `added` (above), the seq taken only once the SQL
    condition `after` holds: a condition that reads the statement's other WITH queries makes
    them run first, so that the board's lock is the statement's last, as it is every
    writer's (the order Postgres runs a statement's WITH queries in is otherwise its own)."""
    return _APPEND_WITH.replace("<after>", f"AND {after}" if after else "")


_APPEND_SQL_POSTGRES = f"WITH {append_with()} SELECT {APPEND_RETURNS} FROM added, next"
_INSERT_EVENT_SQL = f"""
    INSERT INTO {Event._meta.db_table} ({_EVENT_COLUMNS})
    VALUES (%(event_board)s, %(event_seq)s, %(event_type)s, %(event_at)s, %(event_actor)s,
        %(event_data)s)
    RETURNING id, seq
"""


def _insert_event(values: dict[str, Any]) -> tuple[int, int, int] | None:
    """Take the board's next seq and write the event; return (id, seq, organization id), or
    None when the board is gone.

    The UPDATE of the board row takes its lock for the rest of the transaction: two writers
    can never take the same seq, and a rolled-back change leaves no gap. Services lock columns
    and cards first and the board last, so the lock order is always columns (by id) -> card ->
    board."""
    if connection.vendor == "postgresql":
        return sql.fetch_one(_APPEND_SQL_POSTGRES, values)
    taken = sql.fetch_one(_NEXT_SEQ_SQL + " RETURNING last_seq, organization_id", values)
    added = sql.fetch_one(_INSERT_EVENT_SQL, {**values, "event_seq": taken[0]}) if taken else None
    return (added[0], added[1], taken[1]) if added and taken else None


@dataclass(frozen=True)
class NewEvent:
    """An event about to be appended to a board's log (append_event appends one at once). On
    Postgres a hot path may instead join append_with() to a statement of its own writes, with
    `values()` among its parameters and APPEND_RETURNS among its results, and hand those to
    `written`: its writes and the event in one statement."""

    board_id: int
    type: str
    data: dict[str, Any]
    actor: Any
    at: datetime

    def values(self) -> dict[str, Any]:
        """The parameters of its statements (all named `event_*`)."""
        return {
            "event_board": self.board_id,
            "event_type": self.type,
            "event_at": sql.prepare(Event, "at", self.at),
            "event_actor": self.actor.pk if self.actor is not None else None,
            "event_data": sql.prepare(Event, "data", self.data),
        }

    def write(self) -> Event:
        """Append it now (the seq, then the row; one statement on Postgres)."""
        return self.written(_insert_event(self.values()))

    def written(self, row: Sequence[Any] | None) -> Event:
        """The event as written, from its statement's row (id, seq, organization id), published
        once the transaction commits."""
        if not connection.in_atomic_block:
            raise RuntimeError("an event must be written inside the transaction of its change")
        if row is None:  # deleted (a service that holds no lock on it found out only here)
            raise NotFound("Board not found.")
        event_id, seq, organization_id = row
        actor_id = self.actor.pk if self.actor is not None else None
        event = Event(
            id=event_id,
            board_id=self.board_id,
            seq=seq,
            type=self.type,
            at=self.at,
            actor_id=actor_id,
            data=self.data,
        )
        if settings.PUBLISH_EVENTS:
            board_id, payload = self.board_id, event_payload(event, actor_dict(self.actor))
            transaction.on_commit(lambda: publish(board_id, payload))
            created = self.type == "board.created"
            _org_changes().note(organization_id, board_id, seq, created=created)
        return event


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
    return NewEvent(board_id, type, data, actor, at or timezone.now()).write()


_TAKE_SEQS_SQL = (
    f"UPDATE {Board._meta.db_table} SET last_seq = last_seq + %(n)s WHERE id = %(board)s "
    "RETURNING last_seq, organization_id"
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
        created = any(type == "board.created" for type, _, _ in events)
        _org_changes().note(row[1], board_id, row[0], created=created)
    return rows


def publish(board_id: int, payload: dict[str, Any]) -> None:
    """Send one committed event to the board's viewers. Never raises: the write has committed,
    and a viewer that misses this send catches up from the log by resync."""
    send_to_group(board_group(board_id), payload)


def board_deleted(board: Board) -> None:
    """Tell the board's organisation, once the deletion commits, that the board is gone (its
    log goes with it, so no board event says so)."""
    if settings.PUBLISH_EVENTS:
        group = org_group(board.organization_id)
        payload = {"type": "board.deleted", "board": board.pk}
        transaction.on_commit(lambda: send_to_group(group, payload))


class _OrgChanges:
    """The boards one transaction changed, by organisation, with each board's last seq: sent
    to the organisations' groups after commit, one message per board (see the module's
    docstring)."""

    def __init__(self, index: int) -> None:
        self.boards: dict[int, tuple[int, int, bool]] = {}  # board -> (org, seq, created)
        self.index = index  # where its callback is in connection.run_on_commit
        self.sent = False

    def note(self, organization_id: int, board_id: int, seq: int, *, created: bool) -> None:
        _, last, was_created = self.boards.get(board_id, (organization_id, 0, False))
        self.boards[board_id] = (organization_id, max(seq, last), created or was_created)

    def send(self) -> None:
        self.sent = True
        for board_id, (organization_id, seq, created) in self.boards.items():
            kind = "board.created" if created else "board.changed"
            send_to_group(org_group(organization_id), {"type": kind, "board": board_id, "seq": seq})


def _org_changes() -> _OrgChanges:
    """The current transaction's _OrgChanges, registered with on_commit when first asked for.

    One per transaction: the connection keeps the last one, and it is the current one while
    its callback is still among the connection's on_commit callbacks (a rollback drops them,
    and the next transaction starts a fresh one; so does one that has been sent, which tests'
    captured callbacks may leave in the list). The callback sits where the transaction's
    first event put it, so the index usually finds it at once."""
    changes: _OrgChanges | None = getattr(connection, "_obeya_org_changes", None)
    pending = connection.run_on_commit
    if changes is not None and not changes.sent:
        index = changes.index
        if index < len(pending) and pending[index][1] == changes.send:
            return changes
        # (sids, callback, robust) in Django 5; the stubs still say pairs
        if any(entry[1] == changes.send for entry in pending):
            return changes
    changes = _OrgChanges(len(pending))
    transaction.on_commit(changes.send)
    connection._obeya_org_changes = changes  # type: ignore[attr-defined]  # ours, per connection
    return changes


def events_since(board_id: int, since: int):
    """The board's events after `since`, in seq order, actors joined."""
    return (
        Event.objects.filter(board_id=board_id, seq__gt=since)
        .select_related("actor")
        .order_by("seq")
    )
