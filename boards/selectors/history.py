"""A card's moves, comments and whole history, the changes a stale write missed, a board's
alerts and its typical cycle time."""

from typing import Any, TypedDict

from django.db import connection
from django.db.models import (
    QuerySet,
)

from boards.flow.metrics import DAY, percentile
from boards.models import (
    Board,
    Card,
    CardChange,
    CardMove,
    ChangeKind,
    Comment,
)
from boards.selectors.cards import PersonData, user_dict


def card_moves(card: Card) -> QuerySet[CardMove]:
    return (
        CardMove.objects.filter(card=card)
        .select_related("from_column", "to_column", "actor")
        .order_by("at", "id")
    )


def move_dict(m: CardMove) -> dict[str, Any]:
    return {
        "id": m.pk,
        "from_column": m.from_column_id,
        "from_column_name": m.from_column.name if m.from_column else None,
        "to_column": m.to_column_id,
        "to_column_name": m.to_column.name if m.to_column else None,
        "from_swimlane": m.from_swimlane_id,
        "to_swimlane": m.to_swimlane_id,
        "from_stage": m.from_stage or None,
        "to_stage": m.to_stage,
        "position": m.position,
        "at": m.at.isoformat(),
        "actor": user_dict(m.actor) if m.actor else None,
        "override_reason": m.override_reason,
    }


def card_comments(card: Card) -> QuerySet[Comment]:
    return Comment.objects.filter(card=card).select_related("author").order_by("created_at", "id")


def comment_dict(comment: Comment) -> dict[str, Any]:
    return {
        "id": comment.pk,
        "card": comment.card_id,
        "author": user_dict(comment.author) if comment.author else None,
        "body": comment.body,
        "body_html": comment.body_html,
        "created_at": comment.created_at.isoformat(),
    }


# --- the whole history: moves, edits, comments, blocks, archives ------------------------------


class HistoryEntryData(TypedDict):
    """One entry of a card's history. `kind`: created, moved, edited (field, old, new),
    commented (comment), blocked (reason), unblocked, archived, restored. Keys that do not
    apply to the kind are null; a move keeps the keys of the move history (from_column...)."""

    kind: str
    at: str
    actor: PersonData | None
    version: int | None
    field: str | None
    old: Any
    new: Any
    reason: str | None
    comment: dict[str, Any] | None
    from_column: int | None
    from_column_name: str | None
    to_column: int | None
    to_column_name: str | None
    from_swimlane: int | None
    to_swimlane: int | None
    from_stage: str | None
    to_stage: str | None
    position: int | None
    override_reason: str | None


def _entry(kind: str, at, actor, version: int | None, **keys: Any) -> HistoryEntryData:
    entry: dict[str, Any] = dict.fromkeys(HistoryEntryData.__annotations__)
    entry.update(
        kind=kind,
        at=at.isoformat(),
        actor=user_dict(actor) if actor else None,
        version=version,
        **keys,
    )
    return entry  # type: ignore[return-value]  # every key set, from the TypedDict's own


def _move_entry(m: CardMove) -> HistoryEntryData:
    return _entry(
        "created" if m.from_column_id is None and m.from_stage == "" else "moved",
        m.at,
        m.actor,
        m.version,
        from_column=m.from_column_id,
        from_column_name=m.from_column.name if m.from_column else None,
        to_column=m.to_column_id,
        to_column_name=m.to_column.name if m.to_column else None,
        from_swimlane=m.from_swimlane_id,
        to_swimlane=m.to_swimlane_id,
        from_stage=m.from_stage or None,
        to_stage=m.to_stage,
        position=m.position,
        override_reason=m.override_reason,
    )


def _change_entry(c: CardChange) -> HistoryEntryData:
    if c.kind == ChangeKind.BLOCKED:
        return _entry(c.kind, c.at, c.actor, c.version, reason=c.new)
    if c.kind == ChangeKind.EDITED:
        return _entry(c.kind, c.at, c.actor, c.version, field=c.field, old=c.old, new=c.new)
    return _entry(c.kind, c.at, c.actor, c.version)


def card_history(card: Card) -> list[HistoryEntryData]:
    """Everything that happened to the card, oldest first: its creation and moves
    (CardMove), edits, blocks, unblocks, archives and restores (CardChange) and comments.
    Three queries, whatever the length. A card's history is read whole and merged here; it
    grows by a person's edits, a few hundred entries in a card's life, not by the board."""
    moves = CardMove.objects.filter(card=card).select_related("from_column", "to_column", "actor")
    changes = CardChange.objects.filter(card=card).select_related("actor")
    comments = card_comments(card)
    entries: list[tuple[Any, int, int, HistoryEntryData]] = []
    # Ties in time (an edit and the archive of one PATCH) keep the order they were made in:
    # by version, then by each table's ids.
    entries += [(m.at, m.version or 0, m.pk, _move_entry(m)) for m in moves]
    entries += [(c.at, c.version, c.pk, _change_entry(c)) for c in changes]
    entries += [
        (
            c.created_at,
            0,
            c.pk,
            _entry("commented", c.created_at, c.author, None, comment=comment_dict(c)),
        )
        for c in comments
    ]
    entries.sort(key=lambda e: (e[0], e[1], e[2]))
    return [e[3] for e in entries]


class ChangeData(TypedDict):
    """What a stale write missed: who changed which field, when (and to what)."""

    field: str
    kind: str
    by: str | None  # the username; null for the board's own policy (the release of Done)
    at: str
    version: int
    new: Any


def changes_since(card_id: int, version: int) -> list[ChangeData]:
    """The changes that made the card's versions after `version`, in order: two queries (its
    CardChange rows and its moves). A move's `field` is "column", its `new` the column's name;
    a block's "blocked" (new: the reason), an archive's "archived"."""
    found: list[tuple[int, int, ChangeData]] = []
    for c in CardChange.objects.filter(card_id=card_id, version__gt=version).select_related(
        "actor"
    ):
        field = c.field if c.kind == ChangeKind.EDITED else c.kind.removeprefix("un")
        if c.kind in (ChangeKind.UNBLOCKED, ChangeKind.RESTORED):
            new: Any = False
        elif c.kind == ChangeKind.ARCHIVED:
            new = True
        else:
            new = c.new
        found.append(
            (
                c.version,
                c.pk,
                {
                    "field": "archived" if c.kind == ChangeKind.RESTORED else field,
                    "kind": c.kind,
                    "by": c.actor.username if c.actor else None,
                    "at": c.at.isoformat(),
                    "version": c.version,
                    "new": new,
                },
            )
        )
    for m in CardMove.objects.filter(card_id=card_id, version__gt=version).select_related(
        "to_column", "actor"
    ):
        assert m.version is not None  # version__gt: not null
        found.append(
            (
                m.version,
                m.pk,
                {
                    "field": "column",
                    "kind": "moved",
                    "by": m.actor.username if m.actor else None,
                    "at": m.at.isoformat(),
                    "version": m.version,
                    "new": m.to_column.name if m.to_column else None,
                },
            )
        )
    found.sort(key=lambda f: (f[0], f[1]))
    return [f[2] for f in found]


def last_move(card_id: int) -> CardMove | None:
    return (
        CardMove.objects.filter(card_id=card_id)
        .select_related("to_column", "actor")
        .order_by("-at", "-id")
        .first()
    )


# --- ageing ----------------------------------------------------------------------------------

TYPICAL_CYCLE_TIME_PERCENTILE = 0.85


def typical_cycle_time_days(board_id: int) -> float | None:
    """The board's typical cycle time: the 85th percentile of (finished_at - started_at), in
    days, over its finished cards, archived ones too (a release policy archives every finished
    card after a few days: without them the figure would rest on the last few days' work);
    None while no card has finished. One query.

    The board page marks work in progress older than this as ageing: most work of this board
    finishes faster, so such a card deserves a look at the stand-up. Percentiles interpolate
    linearly (Postgres percentile_cont, numpy's default), as every metric of the design does.
    """
    finished = Card.objects.filter(
        board_id=board_id, finished_at__isnull=False, started_at__isnull=False
    )
    if connection.vendor == "postgresql":
        table = Card._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT percentile_cont(%s) WITHIN GROUP "
                "(ORDER BY EXTRACT(EPOCH FROM finished_at - started_at)) "
                f"FROM {table} WHERE board_id = %s "
                "AND finished_at IS NOT NULL AND started_at IS NOT NULL",
                [TYPICAL_CYCLE_TIME_PERCENTILE, board_id],
            )
            seconds = cursor.fetchone()[0]
        return None if seconds is None else float(seconds) / DAY
    durations = [
        # `finished` excludes NULL start and finish times
        (finished_at - started_at).total_seconds()  # type: ignore[operator]
        for started_at, finished_at in finished.values_list("started_at", "finished_at")
    ]
    seconds = percentile(durations, TYPICAL_CYCLE_TIME_PERCENTILE)
    return None if seconds is None else seconds / DAY


def board_alerts(board: Board, state: str = "open"):
    from boards.models import Alert

    alerts = Alert.objects.filter(board=board)
    if state == "open":
        alerts = alerts.filter(closed_at__isnull=True)
    elif state == "closed":
        alerts = alerts.filter(closed_at__isnull=False)
    return alerts.order_by("-opened_at", "-id")
