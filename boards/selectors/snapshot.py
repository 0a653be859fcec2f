"""The whole board at once, its seq, and the replay of its event log."""

import threading
import time
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
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


def board_snapshot(board: Board) -> dict[str, Any]:
    """The whole board (columns with WIP, swimlanes, labels, people, live cards) and its `seq`.

    Seven queries whatever the number of cards. Under READ COMMITTED a move may commit between
    these reads, so `seq` is read first: a client that applies the events after it converges,
    since applying a move the snapshot already shows changes nothing. A column's WIP is counted
    from the cards read (its live cards), not by a query of its own.
    """
    seq = board_seq(board.pk)
    columns = list(Column.objects.filter(board=board).order_by("position", "id"))
    swimlanes = list(Swimlane.objects.filter(board=board).order_by("position", "id"))
    labels = list(Label.objects.filter(board=board).order_by("name"))
    rows: Sequence[Sequence[Any]] = sql.fetch_all(_SNAPSHOT_CARDS_SQL, [board.pk])
    if connection.vendor != "postgresql":  # SQLite's values need the fields' converters
        rows = [sql.convert(Card, CARD_FIELDS, row) for row in rows]
    relations: tuple[dict[int, list[int]], dict[int, list[int]]] = (
        defaultdict(list),
        defaultdict(list),
    )
    for kind, card_id, other_id in sql.fetch_all(_SNAPSHOT_RELATIONS_SQL, {"board": board.pk}):
        relations[kind][card_id].append(other_id)
    people = User.objects.filter(
        Q(teams__id=board.team_id) | Q(assigned_cards__board_id=board.pk)
    ).distinct()
    now = timezone.now()
    wip = Counter(row[2] for row in rows)  # column_id, the third of CARD_FIELDS
    assignees, card_labels = relations
    cards, cell, position = [], None, 0
    for row in rows:  # in cell and rank order: a card's position is its index in its cell
        card = dict(zip(CARD_FIELDS, row, strict=True))
        if (card["column_id"], card["swimlane_id"]) != cell:
            cell, position = (card["column_id"], card["swimlane_id"]), 0
        card["position"] = position
        position += 1
        cards.append(card_dict(card, assignees[card["id"]], card_labels[card["id"]], now))
    summary = board_summary(board)
    summary["seq"] = seq
    summary.update(
        columns=[column_dict(c, wip[c.pk]) for c in columns],
        swimlanes=[swimlane_dict(s) for s in swimlanes],
        labels=[label_dict(label) for label in labels],
        people=[user_dict(u) for u in people.order_by("username")],
        cards=cards,
    )
    return summary


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
    """
    ttl = settings.SNAPSHOT_CACHE_SECONDS
    if ttl:
        seq = board_seq(board.pk)
        kept = _encoded.get(board.pk)
        if kept is not None and kept[0] == seq and time.monotonic() - kept[1] < ttl:
            return kept[2]
    data = board_snapshot(board)
    body = dumps(data)
    if ttl:
        with _encoded_lock:
            _encoded[board.pk] = (data["seq"], time.monotonic(), body)
            _encoded.move_to_end(board.pk)
            while len(_encoded) > ENCODED_BOARDS:
                _encoded.popitem(last=False)
    return body


def board_seq(board_id: int) -> int:
    row = sql.fetch_one(f"SELECT last_seq FROM {Board._meta.db_table} WHERE id = %s", [board_id])
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
