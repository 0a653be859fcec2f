"""Waits between cards (boards.models.CardWait) as the API's and the pages' plain dicts.

Who sees what: a wait names the other card (id, title, board, link) only to a reader who may
read the other card's board; anyone else reads "a card of team X". Today every member of an
organisation reads all of its boards, and a wait never leaves its organisation, so the rule
shows in one place only: here, should boards ever become private.
"""

from collections import defaultdict
from datetime import datetime
from typing import TypedDict

from django.db.models import Count, Q

from accounts.models import Membership, User
from boards.models import Card, CardWait

_WAIT = CardWait._meta.db_table


class WaitCardData(TypedDict):
    """The card at the other end of a wait, as the reader may see it."""

    visible: bool
    team: str
    id: int | None  # null from here on when not visible
    ref: str | None  # "#42"
    title: str | None
    board: int | None
    board_name: str | None
    url: str | None
    finished: bool | None


class WaitData(TypedDict):
    id: int
    card: WaitCardData  # the waiting card
    on_card: WaitCardData  # the card waited on
    started_at: str
    ended_at: str | None
    ended_reason: str  # "" while open, "finished" or "removed"
    open: bool
    days: float


class CardWaitsData(TypedDict):
    card: int
    waits: list[WaitData]  # what this card waits (or waited) on, open ones first
    waited_on_by: list[WaitData]  # who waits (or waited) on this card
    waited_on_summary: str  # "2 cards on 2 teams" (open waits), "" when none


def would_cycle(card_id: int, on_id: int) -> bool:
    """Whether `card_id` waiting on `on_id` closes a cycle: `on_id` already waits, directly or
    through a chain of open waits, on `card_id`. One recursive statement (UNION, not UNION ALL:
    each card is visited once, so it ends even on a graph it is checking)."""
    from kanban import sql

    row = sql.fetch_one(
        f"""
        WITH RECURSIVE chain(id) AS (
            SELECT on_card_id FROM {_WAIT} WHERE card_id = %(on)s AND ended_at IS NULL
            UNION
            SELECT w.on_card_id FROM {_WAIT} w JOIN chain ON w.card_id = chain.id
            WHERE w.ended_at IS NULL
        )
        SELECT 1 FROM chain WHERE id = %(card)s LIMIT 1
        """,
        {"on": on_id, "card": card_id},
    )
    return row is not None


def wait_event_dict(wait: CardWait, board_id: int) -> dict:
    """A wait in an event of board `board_id`'s log: the other board's card is named by its
    board only (the log is read by that board's readers, who may not read the other one)."""
    return {
        "id": wait.pk,
        "card": wait.card_id if wait.board_id == board_id else None,
        "on_card": wait.on_card_id if wait.on_board_id == board_id else None,
        "board": wait.board_id,
        "on_board": wait.on_board_id,
        "started_at": wait.started_at.isoformat(),
        "ended_at": wait.ended_at.isoformat() if wait.ended_at else None,
        "ended_reason": wait.ended_reason,
    }


def readable_organizations(user: User) -> set[int]:
    if not user.is_authenticated:
        return set()
    return set(Membership.objects.filter(user_id=user.pk).values_list("organization_id", flat=True))


def _end(card: Card, readable: set[int]) -> WaitCardData:
    board = card.board
    if board.organization_id not in readable:
        return {
            "visible": False,
            "team": board.team.name,
            "id": None,
            "ref": None,
            "title": None,
            "board": None,
            "board_name": None,
            "url": None,
            "finished": None,
        }
    return {
        "visible": True,
        "team": board.team.name,
        "id": card.pk,
        "ref": f"#{card.pk}",
        "title": card.title,
        "board": board.pk,
        "board_name": board.name,
        "url": f"/boards/{board.pk}/#card-{card.pk}",
        "finished": card.finished_at is not None,
    }


def wait_dict(wait: CardWait, readable: set[int], now: datetime) -> WaitData:
    end = wait.ended_at or now
    return {
        "id": wait.pk,
        "card": _end(wait.card, readable),
        "on_card": _end(wait.on_card, readable),
        "started_at": wait.started_at.isoformat(),
        "ended_at": wait.ended_at.isoformat() if wait.ended_at else None,
        "ended_reason": wait.ended_reason,
        "open": wait.ended_at is None,
        "days": round(max((end - wait.started_at).total_seconds(), 0) / 86_400, 2),
    }


# Ended waits shown with a card: the latest ones; the metrics count them all.
ENDED_SHOWN = 20


def summary(cards: int, teams: int) -> str:
    if not cards:
        return ""
    card_word = "card" if cards == 1 else "cards"
    team_word = "team" if teams == 1 else "teams"
    return f"{cards} {card_word} on {teams} {team_word}"


def card_waits(card: Card, user: User) -> CardWaitsData:
    """What the card waits on and who waits on it, as `user` may see them: three queries."""
    from django.utils import timezone

    readable = readable_organizations(user)
    now = timezone.now()
    related = ("card__board__team", "on_card__board__team")
    waits = list(
        CardWait.objects.filter(card=card)
        .select_related(*related)
        .order_by("-started_at", "-id")[: ENDED_SHOWN * 2]
    )
    waited = list(
        CardWait.objects.filter(on_card=card)
        .select_related(*related)
        .order_by("-started_at", "-id")[: ENDED_SHOWN * 2]
    )

    def ordered(items: list[CardWait]) -> list[WaitData]:
        items.sort(key=lambda w: (w.ended_at is not None, -w.started_at.timestamp()))
        return [wait_dict(w, readable, now) for w in items]

    open_waiters = [w for w in waited if w.ended_at is None]
    return {
        "card": card.pk,
        "waits": ordered(waits),
        "waited_on_by": ordered(waited),
        "waited_on_summary": summary(
            len({w.card_id for w in open_waiters}),
            len({w.card.board.team_id for w in open_waiters}),
        ),
    }


def waited_on_counts(card_ids: list[int]) -> dict[int, int]:
    """Open waits on each of these cards (the stand-up puts them first)."""
    counts: dict[int, int] = defaultdict(int)
    for on_card_id, n in (
        CardWait.objects.filter(on_card_id__in=card_ids, ended_at__isnull=True)
        .values("on_card_id")
        .annotate(n=Count("id"))
        .values_list("on_card_id", "n")
        .order_by()
    ):
        counts[on_card_id] = n
    return counts


def waits_on_board(
    board_id: int, card_id: int | None = None
) -> tuple[dict[int, str], dict[int, dict[str, str]]]:
    """What the board draws of its cards' open waits (of the one card, if given), in one query:

    - for each card that other cards wait on, who: "2 cards on 2 teams";
    - for each card that waits, the first card it waits on ("waiting on #42", a link to it).

    Whoever reads this board is a member of its organisation, which a wait never leaves: they
    may read the other card (the API's reads redact it otherwise, `card_waits`)."""
    waits = CardWait.objects.filter(Q(board_id=board_id) | Q(on_board_id=board_id)).filter(
        ended_at__isnull=True
    )
    if card_id is not None:
        waits = waits.filter(Q(card_id=card_id) | Q(on_card_id=card_id))
    waiters: dict[int, tuple[set[int], set[int]]] = defaultdict(lambda: (set(), set()))
    waiting: dict[int, dict[str, str]] = {}
    for waiting_id, board, on_id, on_board, team, on_team in waits.order_by(
        "started_at", "id"
    ).values_list(
        "card_id", "board_id", "on_card_id", "on_board_id", "board__team_id", "on_board__team__name"
    ):
        if on_board == board_id:
            cards, teams = waiters[on_id]
            cards.add(waiting_id)
            teams.add(team)
        if board == board_id and waiting_id not in waiting:
            waiting[waiting_id] = {
                "ref": f"#{on_id}",
                "url": f"/boards/{on_board}/#card-{on_id}",
                "team": on_team,
            }
    return {k: summary(len(c), len(t)) for k, (c, t) in waiters.items()}, waiting
