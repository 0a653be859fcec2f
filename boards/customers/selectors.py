"""The reads of the customer view. A customer is the card's `customer` text, trimmed and
compared without case ("Acme " and "acme" are one customer, shown as the first spelling in
alphabetical order). Only live (not archived) cards, on boards of the organisation that the
user can see, count; cards of another organisation never do, whatever their customer's name.

Each read is one statement (the organisation's membership is looked up before it), so the
count of queries does not grow with cards, boards or customers."""

from datetime import UTC, datetime
from typing import TypedDict

from django.db.models import (
    Case,
    Count,
    Exists,
    IntegerField,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import Lower, Trim
from django.db.models.lookups import Exact

from accounts.models import Membership, Organization, User
from boards.models import Alert, AlertKind, Board, Card, Stage

STAGE_ORDER = [Stage.BACKLOG, Stage.WAIT, Stage.ACTIVE, Stage.DONE]
DAY = 86_400.0


class CustomerSummary(TypedDict):
    name: str
    open: int  # live cards not finished (backlog, waiting or in progress)
    finished: int  # live cards in a done column
    blocked: int
    boards: int


class CustomerCard(TypedDict):
    id: int
    title: str
    board: int
    board_name: str
    column: int
    column_name: str
    stage: str
    class_of_service: str
    value: int
    due_date: str | None
    blocked: bool
    block_reason: str
    ageing: bool  # an open ageing alert: in its stage longer than the board's p85 cycle time
    age_days: float | None  # committed and unfinished: days since commitment
    lead_time_days: float | None  # finished: commitment -> finish
    finished_at: str | None


def visible_boards(organization: Organization, user: User) -> QuerySet[Board]:
    """The organisation's boards that `user` can see: every one, for a member (DESIGN.md's
    visibility); none for anyone else. Written as the same membership test as
    boards.selectors.access, inside the one statement that reads the cards."""
    member = Membership.objects.filter(user_id=user.pk, organization_id=OuterRef("organization_id"))
    return Board.objects.filter(organization=organization).filter(Exists(member.order_by()))


KEY = Lower(Trim("customer"))  # the customer as compared: trimmed, without case


def _cards(organization: Organization, user: User) -> QuerySet[Card]:
    return (
        Card.objects.filter(board__in=visible_boards(organization, user), archived=False)
        .exclude(customer="")
        .exclude(Exact(Trim("customer"), ""))
    )


def customer_key(name: str) -> str:
    return name.strip().lower()


def customers_of(organization: Organization, user: User) -> QuerySet:
    """One row per customer, alphabetically: a values() queryset of CustomerSummary."""
    return (
        _cards(organization, user)
        .annotate(customer_key=KEY)
        .order_by()
        .values("customer_key")
        .annotate(
            name=Min(Trim("customer")),
            open=Count("id", filter=Q(finished_at__isnull=True)),
            finished=Count("id", filter=Q(finished_at__isnull=False)),
            blocked=Count("id", filter=Q(blocked=True)),
            boards=Count("board_id", distinct=True),
        )
        .order_by("customer_key")
    )


def summary_dict(row: dict) -> CustomerSummary:
    return {
        "name": row["name"],
        "open": row["open"],
        "finished": row["finished"],
        "blocked": row["blocked"],
        "boards": row["boards"],
    }


def cards_of_customer(organization: Organization, user: User, name: str) -> QuerySet[Card]:
    """The customer's cards, by board (name), stage (backlog -> done), column and place."""
    stage_order = Case(
        *[When(column__stage=s, then=Value(i)) for i, s in enumerate(STAGE_ORDER)],
        output_field=IntegerField(),
    )
    ageing = Alert.objects.filter(
        card_id=OuterRef("pk"), kind=AlertKind.AGEING, closed_at__isnull=True
    )
    return (
        _cards(organization, user)
        .filter(Exact(KEY, customer_key(name)))
        .select_related("board", "column")
        .annotate(stage_order=stage_order, ageing=Exists(ageing))
        .order_by("board__name", "board_id", "stage_order", "column__position", "column_id", "rank")
    )


def _days(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds() / DAY, 2)


def card_dict(card: Card, *, now: datetime) -> CustomerCard:
    committed = card.committed_at or (card.finished_at if card.finished_at else None)
    finished = card.finished_at
    return {
        "id": card.pk,
        "title": card.title,
        "board": card.board_id,
        "board_name": card.board.name,
        "column": card.column_id,
        "column_name": card.column.name,
        "stage": card.column.stage,
        "class_of_service": card.class_of_service,
        "value": card.value,
        "due_date": card.due_date.isoformat() if card.due_date else None,
        "blocked": card.blocked,
        "block_reason": card.block_reason,
        "ageing": bool(card.ageing),  # type: ignore[attr-defined]  # annotated above
        "age_days": _days(card.committed_at, now)
        if finished is None and card.column.stage != Stage.BACKLOG
        else None,
        "lead_time_days": _days(committed, finished),
        "finished_at": finished.astimezone(UTC).isoformat() if finished else None,
    }
