"""Read paths of the organisation's pages: the global board, the stand-up and the search
results (boards/views.py renders them). Like every selector, each costs a fixed number of
queries whatever the number of boards, cards and moves: no query per board or per card.

The organisation overview and the activity feeds have their own modules (boards.flow.overview,
boards.pages.activity); this one builds on them only through the views.
"""

import html
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from django.db import connection
from django.db.models import Count, Exists, F, Max, Min, OuterRef, Q, QuerySet
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone
from django.utils.html import strip_tags

from accounts.models import Organization, User
from boards import selectors
from boards.flow.metrics import DAY, percentile
from boards.models import (
    Alert,
    AlertKind,
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
)
from boards.selectors.cards import _relations as relations
from boards.selectors.waits import summary

STAGES = (Stage.BACKLOG, Stage.WAIT, Stage.ACTIVE, Stage.DONE)
IN_PROGRESS = (Stage.WAIT, Stage.ACTIVE)
# The global board shows finished work of the last week only: the wall is for work in progress.
RECENT_DONE = timedelta(days=7)
# Unfiltered, a board's row shows the top of its backlog only (the board has the rest).
BACKLOG_SHOWN = 5
WIP_ALERT_KINDS = (
    AlertKind.WIP_COLUMN,
    AlertKind.WIP_SWIMLANE,
    AlertKind.WIP_PERSON,
    AlertKind.WIP_OVERRIDE,
)
SEARCH_LIMIT = 50


def _truthy(value: str | None) -> bool:
    return (value or "").lower() in {"1", "true", "yes", "on"}


def _int_or_none(value: str | None) -> int | None:
    if value and value.isascii() and value.isdigit():
        return int(value)
    return None


# --- typical cycle times of many boards at once ------------------------------------------------

_TYPICAL_CYCLE_SQL = """
SELECT c.board_id, percentile_cont(%(p)s) WITHIN GROUP
       (ORDER BY EXTRACT(EPOCH FROM c.finished_at - c.started_at))
FROM {card} c JOIN {board} b ON b.id = c.board_id
WHERE b.organization_id = %(org)s AND NOT c.archived
  AND c.finished_at IS NOT NULL AND c.started_at IS NOT NULL
GROUP BY c.board_id
"""


def typical_cycle_times(organization: Organization) -> dict[int, float]:
    """selectors.typical_cycle_time_days for every board of the organisation, in one query
    (boards with no finished card are absent)."""
    p = selectors.TYPICAL_CYCLE_TIME_PERCENTILE
    if connection.vendor == "postgresql":
        sql = _TYPICAL_CYCLE_SQL.format(card=Card._meta.db_table, board=Board._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(sql, {"p": p, "org": organization.pk})
            return {
                board_id: float(seconds) / DAY
                for board_id, seconds in cursor.fetchall()
                if seconds is not None
            }
    durations: dict[int, list[float]] = defaultdict(list)
    for board_id, started, finished in Card.objects.filter(
        board__organization=organization,
        archived=False,
        finished_at__isnull=False,
        started_at__isnull=False,
    ).values_list("board_id", "started_at", "finished_at"):
        # finished_at/started_at__isnull=False above
        durations[board_id].append((finished - started).total_seconds())  # type: ignore[operator]
    # no list in `durations` is empty
    return {board_id: percentile(values, p) / DAY for board_id, values in durations.items()}  # type: ignore[operator]


# --- the global board ----------------------------------------------------------------------------


@dataclass(frozen=True)
class GlobalFilters:
    """The global board's filters, from the URL (so a filtered wall can be shared). `label` is a
    label's name: each board has its own labels, and "migration" means the same everywhere.
    A value that does not parse is ignored, as a page should."""

    team: int | None = None
    person: int | None = None
    label: str = ""
    class_of_service: str = ""
    blocked: bool = False
    q: str = ""

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> "GlobalFilters":
        cos = query.get("class_of_service", "")
        return cls(
            team=_int_or_none(query.get("team")),
            person=_int_or_none(query.get("person")),
            label=query.get("label", "").strip()[:40],
            class_of_service=cos if cos in ClassOfService.values else "",
            blocked=_truthy(query.get("blocked")),
            q=query.get("q", "").strip()[:200],
        )

    @property
    def active(self) -> bool:
        """Whether any filter narrows the cards (the team alone only narrows the boards)."""
        return bool(self.person or self.label or self.class_of_service or self.blocked or self.q)

    def apply(self, cards: QuerySet[Card]) -> QuerySet[Card]:
        if self.team is not None:
            cards = cards.filter(board__team_id=self.team)
        if self.person is not None:
            cards = cards.filter(
                Exists(
                    Card.assignees.through.objects.filter(
                        card_id=OuterRef("pk"), user_id=self.person
                    )
                )
            )
        if self.label:
            cards = cards.filter(
                Exists(
                    Card.labels.through.objects.filter(
                        card_id=OuterRef("pk"), label__name__iexact=self.label
                    )
                )
            )
        if self.class_of_service:
            cards = cards.filter(class_of_service=self.class_of_service)
        if self.blocked:
            cards = cards.filter(blocked=True)
        for word in self.q.split():
            match = Q(title__icontains=word) | Q(customer__icontains=word)
            if word.startswith("#") and word[1:].isdigit():
                match |= Q(pk=int(word[1:]))
            cards = cards.filter(match)
        return cards


def global_board(
    organization: Organization, filters: GlobalFilters, *, now: datetime | None = None
) -> dict[str, Any]:
    """Every team's work in one board: one row per board (of the filtered team, if any), four
    stage columns. Backlog, wait and active hold the live cards of those stages; done only the
    cards finished in the last RECENT_DONE. Seven queries whatever the number of boards or cards
    (boards, cards, their assignees and labels, the people, the labels, the cycle times).

    Returns `boards` (all boards in scope, with `seq`: the page subscribes to each), `rows`
    (each board's cards per stage, as card dicts with `stage` and `column_name`), the people,
    labels and teams the filters offer, and each board's typical cycle time (for "ageing").
    """
    now = now or timezone.now()
    boards = list(
        Board.objects.filter(organization=organization)
        .select_related("team")
        .order_by("team__name", "name", "id")
    )
    teams = sorted({(b.team_id, b.team.name) for b in boards}, key=lambda t: t[1].lower())
    if filters.team is not None:
        boards = [b for b in boards if b.team_id == filters.team]

    in_scope = Card.objects.filter(board__organization=organization, archived=False).filter(
        Q(column__stage__in=(Stage.BACKLOG, *IN_PROGRESS))
        | Q(column__stage=Stage.DONE, finished_at__gte=now - RECENT_DONE)
    )
    rows = list(
        filters.apply(in_scope)
        .order_by("board_id", "column__position", "swimlane__position", "rank", "id")
        .values(*selectors.CARD_FIELDS, "column__stage", "column__name")
    )
    ids = [row["id"] for row in rows]
    assignees, labels_of = relations(Q(card_id__in=ids))
    people = [
        selectors.user_dict(u)
        for u in User.objects.filter(memberships__organization=organization).order_by(
            "first_name", "last_name", "username"
        )
    ]
    labels = [
        selectors.label_dict(label)
        for label in Label.objects.filter(board__organization=organization).order_by("name")
    ]
    ageing_after = typical_cycle_times(organization)

    cards_by_board: dict[int, dict[str, list[dict[str, Any]]]] = defaultdict(
        lambda: {stage: [] for stage in STAGES}
    )
    for row in rows:
        # The tiles show cards by stage, not in their cells: a position is not read for them
        # (counting one for each card of a large backlog would cost more than the page).
        row["position"] = None
        card: dict[str, Any] = {
            **selectors.card_dict(row, assignees[row["id"]], labels_of[row["id"]], now),
            "stage": row["column__stage"],
            "column_name": row["column__name"],
        }
        cards_by_board[row["board_id"]][card["stage"]].append(card)

    board_rows: list[dict[str, Any]] = []
    for board in boards:
        by_stage = cards_by_board.get(board.pk) or {stage: [] for stage in STAGES}
        cells: list[dict[str, Any]] = []
        for stage in STAGES:
            cards = by_stage[stage]
            if stage == Stage.DONE:  # the latest finish first
                cards = sorted(cards, key=lambda c: c["finished_at"] or "", reverse=True)
            hidden = 0
            if stage == Stage.BACKLOG and not filters.active and len(cards) > BACKLOG_SHOWN:
                hidden = len(cards) - BACKLOG_SHOWN
                cards = cards[:BACKLOG_SHOWN]
            cells.append({"stage": stage, "cards": cards, "more": hidden})
        count = sum(len(c["cards"]) + c["more"] for c in cells)
        board_rows.append({"board": board, "cells": cells, "count": count})

    return {
        "boards": boards,
        "rows": board_rows,
        "stage_counts": {
            stage: sum(len(r["cells"][i]["cards"]) + r["cells"][i]["more"] for r in board_rows)
            for i, stage in enumerate(STAGES)
        },
        "teams": teams,
        "people": people,
        "labels": labels,
        "label_names": sorted({label["name"] for label in labels}, key=str.lower),
        "ageing_after": ageing_after,
        "total": len(rows),
    }


# --- the stand-up --------------------------------------------------------------------------------


def previous_working_day_start(now: datetime | None = None) -> datetime:
    """The start (midnight, in the site's time zone) of the working day before today's: on a
    Monday, Friday; on Tuesday to Friday, yesterday; at a weekend, Friday."""
    local = timezone.localtime(now or timezone.now())
    day = local.date() - timedelta(days=1)
    while day.weekday() >= 5:  # Saturday, Sunday
        day -= timedelta(days=1)
    return datetime.combine(day, time.min, tzinfo=local.tzinfo)


def _days_between(start: datetime, end: datetime) -> float:
    return max((end - start).total_seconds(), 0) / DAY


def _card_brief(card: Card, people: Mapping[int, list[selectors.PersonData]]) -> dict[str, Any]:
    return {
        "id": card.pk,
        "board": card.board_id,
        "title": card.title,
        "column_name": card.column.name,
        "stage": card.column.stage,
        "blocked": card.blocked,
        "block_reason": card.block_reason,
        "class_of_service": card.class_of_service,
        "people": people.get(card.pk, []),
        "archived": card.archived,
    }


def _people_of(card_ids: Iterable[int]) -> dict[int, list[selectors.PersonData]]:
    result: dict[int, list[selectors.PersonData]] = defaultdict(list)
    ids = set(card_ids)
    if not ids:
        return result
    for link in (
        Card.assignees.through.objects.filter(card_id__in=ids)
        .select_related("user")
        .order_by("card_id", "user__first_name", "user__username")
    ):
        result[link.card_id].append(selectors.user_dict(link.user))
    return result


def standup(
    board: Board, *, now: datetime | None = None, untouched_days: int = 3
) -> dict[str, Any]:
    """What a board's stand-up walks through, right to left, after `waited_on` (the live cards
    that other cards wait on, boards.models.CardWait: most waiters first, as finishing them
    unblocks other teams):

    - `columns`, the rightmost first: each with its WIP and what arrived in it since the start
      of the previous working day (moves from another column and cards created there), newest
      first, with who did it;
    - `blocked`: the live cards blocked now, with the reason and for how long (longest first);
    - `ageing`: work in progress (wait and active columns) older than the board's typical
      cycle time, p85 (`p85`, None while nothing has finished), oldest first;
    - `breaches`: the open WIP alerts (column, swimlane, person, overrides);
    - `untouched`: work in progress that nobody changed, moved or commented on for
      `untouched_days` days, the stalest first.

    At most nine queries whatever the size of the board or of its history.
    """
    now = now or timezone.now()
    since = previous_working_day_start(now)
    untouched_before = now - timedelta(days=untouched_days)

    columns = list(
        Column.objects.filter(board=board)
        .annotate(wip=Count("cards", filter=Q(cards__archived=False)))
        .order_by("position", "id")
    )
    moves = list(
        CardMove.objects.filter(board=board, at__gte=since, at__lte=now)
        .filter(Q(from_column__isnull=True) | ~Q(from_column=F("to_column")))
        .select_related("card__column", "actor", "from_column")
        .order_by("-at", "-id")
    )
    blocks = list(
        Block.objects.filter(board=board, ended_at__isnull=True, card__archived=False)
        .select_related("card__column", "blocked_by")
        .order_by("started_at", "id")
    )
    p85 = selectors.typical_cycle_time_days(board.pk)
    ageing: list[Card] = []
    if p85 is not None:
        ageing = list(
            Card.objects.filter(board=board, archived=False, column__stage__in=IN_PROGRESS)
            .annotate(since=Coalesce("committed_at", "created_at"))
            .filter(since__lt=now - timedelta(days=p85))
            .select_related("column")
            .order_by("since", "id")
        )
    alerts = list(
        Alert.objects.filter(board=board, closed_at__isnull=True, kind__in=WIP_ALERT_KINDS)
        .select_related("column", "swimlane", "user")
        .order_by("-opened_at", "-id")
    )
    untouched = list(
        Card.objects.filter(board=board, archived=False, column__stage__in=IN_PROGRESS)
        .annotate(last_comment=Max("comments__created_at"))
        .annotate(touched=Greatest("updated_at", Coalesce("last_comment", "updated_at")))
        .filter(touched__lt=untouched_before)
        .select_related("column")
        .order_by("touched", "id")
    )
    # Cards of other teams (or this one) wait on these: they come first, most waiters first.
    open_wait = Q(waited_on_by__ended_at__isnull=True)
    waited_on = list(
        Card.objects.filter(board=board, archived=False)
        # the few cards waited on, found by the waits' index before any grouping
        .filter(Exists(CardWait.objects.filter(on_card=OuterRef("pk"), ended_at__isnull=True)))
        .annotate(
            waiters=Count("waited_on_by__card", filter=open_wait, distinct=True),
            teams=Count("waited_on_by__board__team", filter=open_wait, distinct=True),
            waited_since=Min("waited_on_by__started_at", filter=open_wait),
        )
        .filter(waiters__gt=0)
        .select_related("column")
        .order_by("-waiters", "waited_since", "id")
    )
    people = _people_of(
        [c.pk for c in waited_on]
        + [m.card_id for m in moves]
        + [b.card_id for b in blocks]
        + [c.pk for c in ageing]
        + [c.pk for c in untouched]
    )

    # None: moves into a column deleted since (SET_NULL), which no column of the page reads.
    arrived: dict[int | None, list[dict[str, Any]]] = defaultdict(list)
    for move in moves:
        arrived[move.to_column_id].append(
            {
                "card": _card_brief(move.card, people),
                "kind": "created" if move.from_column_id is None else "moved",
                "from_column": move.from_column.name if move.from_column else None,
                "actor": move.actor.display_name if move.actor else "Someone",
                "at": move.at,
                "moved_on": move.card.column_id != move.to_column_id,
                "override_reason": move.override_reason,
            }
        )
    walk = []
    for column in reversed(columns):
        limit = column.wip_limit
        walk.append(
            {
                "id": column.pk,
                "name": column.name,
                "stage": column.stage,
                "wip": column.wip,
                "wip_limit": limit,
                "at_limit": limit is not None and column.wip >= limit,
                "over_limit": limit is not None and column.wip > limit,
                "arrivals": arrived.get(column.pk, []),
            }
        )

    return {
        "since": since,
        "now": now,
        "untouched_days": untouched_days,
        "p85": p85,
        "columns": walk,
        "moves": len(moves),
        "waited_on": [
            {
                "card": _card_brief(card, people),
                # annotated by the query
                "waiters": summary(card.waiters, card.teams),
                "days": _days_between(card.waited_since, now),
            }
            for card in waited_on
        ],
        "blocked": sorted(
            (
                {
                    "card": _card_brief(block.card, people),
                    "reason": block.reason,
                    "since": block.started_at,
                    "days": _days_between(block.started_at, now),
                    "by": block.blocked_by.display_name if block.blocked_by else "",
                }
                for block in blocks
            ),
            key=lambda item: -item["days"],
        ),
        "ageing": [
            # `since` is annotated by the query
            {"card": _card_brief(card, people), "days": _days_between(card.since, now)}  # type: ignore[attr-defined]
            for card in ageing
        ],
        "breaches": [
            {
                "kind": alert.kind,
                "kind_label": AlertKind(alert.kind).label,
                "detail": alert.detail,
                "since": alert.opened_at,
                "days": _days_between(alert.opened_at, now),
                "column": alert.column.name if alert.column else "",
            }
            for alert in alerts
        ],
        "untouched": [
            {
                "card": _card_brief(card, people),
                "days": _days_between(card.touched, now),
                "last_touch": card.touched,
            }
            for card in untouched
        ],
    }


# --- search across the organisation --------------------------------------------------------------


def _matching_comments(card_ids: list[int], q: str) -> dict[int, list[Comment]]:
    """The comments of these cards that match `q` as the card search matches them."""
    comments = Comment.objects.filter(card_id__in=card_ids).select_related("author")
    if connection.vendor == "postgresql":
        from django.contrib.postgres.search import SearchQuery

        query = SearchQuery(q, search_type="websearch", config="english")
        comments = comments.annotate(v=selectors.comment_search_vector()).filter(v=query)
    else:
        for word in q.split():
            comments = comments.filter(body__icontains=word.strip('"').lstrip("-") or word)
    result: dict[int, list[Comment]] = defaultdict(list)
    for comment in comments.order_by("created_at", "id"):
        result[comment.card_id].append(comment)
    return result


def search_organization(
    user: User, organization: Organization, q: str, *, limit: int = SEARCH_LIMIT
) -> dict[str, Any]:
    """The organisation's live cards whose title, description or comments match `q` (the card
    search of the API), best first, at most `limit`, grouped by board (the board of the best
    match first). Each hit carries the comments that matched. Four queries."""
    q = q.strip()[:200]
    if not q:
        return {"q": q, "total": 0, "groups": [], "limit": limit}
    found = selectors.search_cards(user, org=organization.slug, q=q)
    total = found.count()
    cards = list(found.select_related("board__team", "column")[:limit])
    comments = _matching_comments([c.pk for c in cards], q) if cards else {}
    groups: dict[int, dict[str, Any]] = {}
    for card in cards:
        group = groups.setdefault(card.board_id, {"board": card.board, "hits": []})
        group["hits"].append(
            {
                "card": card,
                "column_name": card.column.name,
                "stage": card.column.stage,
                # the description as read (rendered, then plain), not its markdown source
                "text": html.unescape(strip_tags(card.description_html)),
                "comments": comments.get(card.pk, []),
            }
        )
    return {"q": q, "total": total, "groups": list(groups.values()), "limit": limit}
