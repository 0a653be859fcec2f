"""The whole board at once, its seq, and the replay of its event log."""

import threading
import time
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from django.conf import settings
from django.db import connection
from django.utils import timezone

from accounts.models import TeamMembership, User
from boards.live.events import actor_dict
from boards.models import (
    Board,
    Card,
    Column,
    Event,
    Label,
    Swimlane,
)
from boards.selectors.cards import (
    CARD_FIELDS,
    age_between,
    board_summary,
    card_dict,
    column_dict,
    label_dict,
    swimlane_dict,
    user_dict,
)
from kanban import sql
from kanban.exceptions import NotFound
from kanban.renderers import dumps

_CARD, _ASSIGNEES, _LABELS = (
    Card._meta.db_table,
    Card.assignees.through._meta.db_table,
    Card.labels.through._meta.db_table,
)
# The live cards in board order, as plain rows (the ORM's values() cost more Python per row than
# the query took), and their assignees and labels in one statement rather than two.
_SNAPSHOT_CARDS_SQL = f"""
    SELECT {sql.columns(Card, CARD_FIELDS)} FROM {_CARD}
    WHERE board_id = %s AND NOT archived ORDER BY column_id, swimlane_id, rank
"""
_SNAPSHOT_RELATIONS_SQL = f"""
    SELECT 0, r.card_id, r.user_id FROM {_ASSIGNEES} r JOIN {_CARD} c ON c.id = r.card_id
    WHERE c.board_id = %(board)s AND NOT c.archived
    UNION ALL
    SELECT 1, r.card_id, r.label_id FROM {_LABELS} r JOIN {_CARD} c ON c.id = r.card_id
    WHERE c.board_id = %(board)s AND NOT c.archived
    ORDER BY 1, 2, 3
"""
_SEQ_SQL = f"SELECT last_seq FROM {Board._meta.db_table} WHERE id = %s"
# The board's columns, lanes, labels and people as plain rows too: through the ORM these four
# small reads took ~2.2 ms of a 500-card board's ~9.6 (measured in process), each well under
# 0.2 ms of it in the database.
_COLUMN_FIELDS = (
    "id",
    "board_id",
    "name",
    "stage",
    "position",
    "wip_limit",
    "wip_policy",
    "policy",
)
_SWIMLANE_FIELDS = ("id", "board_id", "name", "position", "wip_limit")
_LABEL_FIELDS = ("id", "board_id", "name", "color")
_PERSON_FIELDS = ("id", "username", "first_name", "last_name")
_COLUMNS_SQL = (
    f"SELECT {sql.columns(Column, _COLUMN_FIELDS)} FROM {Column._meta.db_table} "
    "WHERE board_id = %s ORDER BY position, id"
)
_SWIMLANES_SQL = (
    f"SELECT {sql.columns(Swimlane, _SWIMLANE_FIELDS)} FROM {Swimlane._meta.db_table} "
    "WHERE board_id = %s ORDER BY position, id"
)
_LABELS_SQL = (
    f"SELECT {sql.columns(Label, _LABEL_FIELDS)} FROM {Label._meta.db_table} "
    "WHERE board_id = %s ORDER BY name, id"
)
# The team's members and everyone assigned to one of the board's cards, archived ones too.
_PEOPLE_SQL = f"""
    SELECT {sql.columns(User, _PERSON_FIELDS)} FROM {User._meta.db_table}
    WHERE id IN (SELECT user_id FROM {TeamMembership._meta.db_table} WHERE team_id = %(team)s)
       OR id IN (SELECT r.user_id FROM {_ASSIGNEES} r JOIN {_CARD} c ON c.id = r.card_id
                 WHERE c.board_id = %(board)s)
    ORDER BY username
"""
# Where a card row (CARD_FIELDS) keeps what its age is counted from.
_ID, _COLUMN, _LANE = (CARD_FIELDS.index(f) for f in ("id", "column_id", "swimlane_id"))
_CREATED, _COMMITTED, _FINISHED = (
    CARD_FIELDS.index(f) for f in ("created_at", "committed_at", "finished_at")
)


class _BoardRead(NamedTuple):
    """Everything a snapshot is made of, read in seven statements sent at once."""

    summary: dict[str, Any]  # the board's summary with its seq, columns, lanes, labels, people
    rows: Sequence[Sequence[Any]]  # the live cards (CARD_FIELDS), in cell and rank order
    assignees: dict[int, list[int]]
    labels: dict[int, list[int]]
    now: datetime


def _read_board(board: Board, seq: int | None = None) -> _BoardRead:
    """Under READ COMMITTED a move may commit between these reads, so `seq` is read first (or
    given, read just before): a client that applies the events after it converges, since
    applying a move the snapshot already shows changes nothing. A column's WIP is counted from
    the cards read (its live cards), not by a query of its own."""
    board_only: list = [board.pk]
    board_and_team: dict = {"team": board.team_id, "board": board.pk}
    queries: list[tuple[str, list | dict]] = [
        (_COLUMNS_SQL, board_only),
        (_SWIMLANES_SQL, board_only),
        (_LABELS_SQL, board_only),
        (_SNAPSHOT_CARDS_SQL, board_only),
        (_SNAPSHOT_RELATIONS_SQL, board_and_team),
        (_PEOPLE_SQL, board_and_team),
    ]
    if seq is None:
        queries.insert(0, (_SEQ_SQL, board_only))
    results = sql.fetch_many(queries)  # one round trip, in this order
    if seq is None:
        seq_rows = results.pop(0)
        if not seq_rows:
            raise NotFound("Board not found.")
        seq = seq_rows[0][0]
    column_rows, lane_rows, label_rows, rows, relation_rows, people_rows = results
    columns = [sql.instance(Column, _COLUMN_FIELDS, r) for r in column_rows]
    swimlanes = [sql.instance(Swimlane, _SWIMLANE_FIELDS, r) for r in lane_rows]
    labels = [sql.instance(Label, _LABEL_FIELDS, r) for r in label_rows]
    if connection.vendor != "postgresql":  # SQLite's values need the fields' converters
        rows = [tuple(sql.convert(Card, CARD_FIELDS, row)) for row in rows]
    relations: tuple[dict[int, list[int]], dict[int, list[int]]] = (
        defaultdict(list),
        defaultdict(list),
    )
    for kind, card_id, other_id in relation_rows:
        relations[kind][card_id].append(other_id)
    people = [sql.instance(User, _PERSON_FIELDS, r) for r in people_rows]
    wip = Counter(row[_COLUMN] for row in rows)
    summary = board_summary(board)
    summary["seq"] = seq
    summary.update(
        columns=[column_dict(c, wip[c.pk]) for c in columns],
        swimlanes=[swimlane_dict(s) for s in swimlanes],
        labels=[label_dict(label) for label in labels],
        people=[user_dict(u) for u in people],
    )
    return _BoardRead(summary, rows, *relations, now=timezone.now())


def _positions(rows: Sequence[Sequence[Any]]):
    """(row, position) for cards in cell and rank order: a card's position is its index in its
    cell."""
    cell, position = None, 0
    for row in rows:
        if (row[_COLUMN], row[_LANE]) != cell:
            cell, position = (row[_COLUMN], row[_LANE]), 0
        yield row, position
        position += 1


def board_snapshot(board: Board) -> dict[str, Any]:
    """The whole board (columns with WIP, swimlanes, labels, people, live cards) and its `seq`.

    Seven queries whatever the number of cards (_read_board)."""
    read = _read_board(board)
    cards = []
    for row, position in _positions(read.rows):
        card = dict(zip(CARD_FIELDS, row, strict=True))
        card["position"] = position
        cards.append(card_dict(card, read.assignees[row[_ID]], read.labels[row[_ID]], read.now))
    return {**read.summary, "cards": cards}


# Each card's JSON but its position and age, per process, for the row and relations it was made
# of: {card: (row, assignees, labels, JSON without the closing brace)}. A board read after a move
# encodes the one card that changed and reuses the rest: making 500 cards' dicts was a third of
# such a read. Keyed by the whole row, not by `version`, so that no write can leave a stale copy
# behind by forgetting to count itself; what is kept is bounded, and forgotten all at once.
_fragments: dict[int, tuple[Sequence[Any], list[int], list[int], bytes]] = {}
CARD_FRAGMENTS = 50_000


def _card_json(read: _BoardRead, row: Sequence[Any], position: int) -> bytes:
    card_id = row[_ID]
    assignees, labels = read.assignees[card_id], read.labels[card_id]
    kept = _fragments.get(card_id)
    if kept is not None and kept[0] == row and kept[1] == assignees and kept[2] == labels:
        fragment = kept[3]
    else:
        card: dict[str, Any] = dict(zip(CARD_FIELDS, row, strict=True))
        card["position"] = None
        data: dict[str, Any] = dict(card_dict(card, assignees, labels, read.now))
        del data["position"], data["age_days"]
        fragment = dumps(data)[:-1]
        if len(_fragments) >= CARD_FRAGMENTS:
            _fragments.clear()
        _fragments[card_id] = (row, assignees, labels, fragment)
    age = age_between(row[_COMMITTED] or row[_CREATED], row[_FINISHED], read.now)
    return b'%s,"position":%d,"age_days":%s}' % (fragment, position, repr(age).encode())


# The encoded snapshots of the boards read last, per process: {board: (seq, built at, JSON)}.
_encoded: "OrderedDict[int, tuple[int, float, bytes]]" = OrderedDict()
_encoded_lock = threading.Lock()
ENCODED_BOARDS = 64


def board_snapshot_json(board: Board) -> bytes:
    """board_snapshot as the API's JSON, built once per change of the board in this process.

    A board is read far more often than it changes (wall screens, every viewer's page load and
    resync): the JSON is kept per board for its seq, which every change of the board moves on,
    for at most SNAPSHOT_CACHE_SECONDS (0: never kept) - which bounds what a seq does not
    track: the people of the team (changed elsewhere) and each card's age (in hundredths of a
    day, so that a minute leaves it as it was). One query answers whether it is still current.
    When it is not, only the cards that changed are encoded again (_card_json).
    """
    ttl = settings.SNAPSHOT_CACHE_SECONDS
    seq = board_seq(board.pk)
    if ttl:
        kept = _encoded.get(board.pk)
        if kept is not None and kept[0] == seq and time.monotonic() - kept[1] < ttl:
            return kept[2]
    read = _read_board(board, seq)
    cards = b",".join(_card_json(read, row, position) for row, position in _positions(read.rows))
    body = b'%s,"cards":[%s]}' % (dumps(read.summary)[:-1], cards)
    if ttl:
        with _encoded_lock:
            _encoded[board.pk] = (seq, time.monotonic(), body)
            _encoded.move_to_end(board.pk)
            while len(_encoded) > ENCODED_BOARDS:
                _encoded.popitem(last=False)
    return body


def board_seq(board_id: int) -> int:
    row = sql.fetch_one(_SEQ_SQL, [board_id])
    if row is None:
        raise NotFound("Board not found.")
    return row[0]


def organization_board_seqs(organization_id: int) -> dict[int, int]:
    """Every board of the organisation with its event log's last seq (one query)."""
    return dict(Board.objects.filter(organization_id=organization_id).values_list("pk", "last_seq"))


# A viewer further behind than this gets the whole board instead of the events it missed.
REPLAY_LIMIT = 500


def board_replay(board_id: int, since: int) -> list[dict[str, Any]]:
    """What a viewer that has applied every event up to `since` needs to catch up: the events
    after it in order, or one `snapshot` of the whole board when that is shorter or the log no
    longer holds them."""
    from boards.live.events import event_payload, events_since

    last = board_seq(board_id)
    if since == last:
        return []
    first_kept = (
        Event.objects.filter(board_id=board_id)
        .order_by("seq")
        .values_list("seq", flat=True)
        .first()
    )
    if since > last or last - since > REPLAY_LIMIT or (first_kept or 1) > since + 1:
        board = Board.objects.select_related("team", "organization").get(pk=board_id)
        snapshot = board_snapshot(board)
        return [{"type": "snapshot", "board": board_id, "seq": snapshot["seq"], "data": snapshot}]
    return [event_payload(e, actor_dict(e.actor)) for e in events_since(board_id, since)]
