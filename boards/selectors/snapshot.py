"""The whole board at once, its seq, and the replay of its event log."""

from typing import Any

from django.db.models import (
    Count,
    Q,
)
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
    _relations,
    board_summary,
    card_dict,
    column_dict,
    label_dict,
    swimlane_dict,
    user_dict,
)
from kanban import sql
from kanban.exceptions import NotFound


def board_snapshot(board: Board) -> dict[str, Any]:
    """The whole board (columns with WIP, swimlanes, labels, people, live cards) and its `seq`.

    Eight queries whatever the number of cards. Under READ COMMITTED a move may commit between
    these reads, so `seq` is read first: a client that applies the events after it converges,
    since applying a move the snapshot already shows changes nothing.
    """
    seq = Board.objects.filter(pk=board.pk).values_list("last_seq", flat=True).get()
    columns = list(
        Column.objects.filter(board=board)
        .annotate(wip_count=Count("cards", filter=Q(cards__archived=False)))
        .order_by("position", "id")
    )
    swimlanes = list(Swimlane.objects.filter(board=board).order_by("position", "id"))
    labels = list(Label.objects.filter(board=board).order_by("name"))
    card_rows = list(
        Card.objects.filter(board=board, archived=False)
        .order_by("column_id", "swimlane_id", "position")
        .values(*CARD_FIELDS)
    )
    assignees, card_labels = _relations(Q(card__board_id=board.pk, card__archived=False))
    people = User.objects.filter(
        Q(teams__id=board.team_id) | Q(assigned_cards__board_id=board.pk)
    ).distinct()
    now = timezone.now()
    summary = board_summary(board)
    summary["seq"] = seq
    summary.update(
        columns=[column_dict(c, c.wip_count) for c in columns],
        swimlanes=[swimlane_dict(s) for s in swimlanes],
        labels=[label_dict(label) for label in labels],
        people=[user_dict(u) for u in people.order_by("username")],
        cards=[
            card_dict(row, assignees[row["id"]], card_labels[row["id"]], now) for row in card_rows
        ],
    )
    return summary


def board_seq(board_id: int) -> int:
    row = sql.fetch_one(f"SELECT last_seq FROM {Board._meta.db_table} WHERE id = %s", [board_id])
    if row is None:
        raise NotFound("Board not found.")
    return row[0]


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
