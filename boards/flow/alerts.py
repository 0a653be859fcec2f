"""WIP and ageing alerts: raised when a limit is breached, closed when the breach is over.

Every raise and close is an event on the board's log (in the same transaction), so viewers see
it live and it stays in the history. The checks are idempotent: running one twice, or after a
retry, opens nothing new and closes nothing twice (one open alert per board and key, a database
constraint).
"""

from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, F, OuterRef, Q, Subquery
from django.utils import timezone

from accounts.models import Membership
from boards.live.events import append_event
from boards.models import (
    Alert,
    AlertKind,
    Board,
    Card,
    CardMove,
    ClassOfService,
    Column,
    ServiceLevel,
    Stage,
    Swimlane,
)

IN_PROGRESS = (Stage.WAIT, Stage.ACTIVE)


def alert_dict(alert: Alert) -> dict[str, Any]:
    return {
        "id": alert.pk,
        "board": alert.board_id,
        "kind": alert.kind,
        "key": alert.key,
        "column": alert.column_id,
        "swimlane": alert.swimlane_id,
        "user": alert.user_id,
        "card": alert.card_id,
        "detail": alert.detail,
        "data": alert.data,
        "opened_at": alert.opened_at.isoformat(),
        "closed_at": alert.closed_at.isoformat() if alert.closed_at else None,
        "open": alert.closed_at is None,
    }


def _lock_board(board_id: int) -> Board | None:
    """One checker per board at a time: the board row is locked, last, as a move locks it.

    Before it, the board's columns are held (KEY SHARE, in id order: moves' own locks do not
    conflict with it) because the alerts written refer to them: a board deletion, which locks
    the columns and then the board, otherwise deadlocked with a check holding the board."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT id FROM {Column._meta.db_table} WHERE board_id = %s ORDER BY id "
                "FOR KEY SHARE",
                [board_id],
            )
    return Board.objects.select_for_update(no_key=True).filter(pk=board_id).first()


def _open(
    board: Board,
    *,
    key: str,
    kind: str,
    detail: str,
    at: datetime,
    data: dict,
    open_alerts: dict[str, Alert],
    **refs,
) -> Alert | None:
    current = open_alerts.get(key)
    if current is not None:
        if current.data != data:  # still breached: keep the figures current, quietly
            current.data = data
            current.detail = detail
            current.save(update_fields=["data", "detail"])
        return None
    alert = Alert.objects.create(
        board=board, key=key, kind=kind, detail=detail, data=data, opened_at=at, **refs
    )
    append_event(
        board.pk, type="alert.raised", data={"alert": alert_dict(alert)}, actor=None, at=at
    )
    return alert


def _close(alert: Alert, at: datetime) -> None:
    alert.closed_at = at
    alert.save(update_fields=["closed_at"])
    append_event(
        alert.board_id, type="alert.closed", data={"alert": alert_dict(alert)}, actor=None, at=at
    )


@transaction.atomic
def _close_all_but(keys: set[str], open_alerts: dict[str, Alert], at: datetime) -> int:
    """Close the open alerts whose condition no longer holds (their key not in `keys`)."""
    gone = [alert for key, alert in open_alerts.items() if key not in keys]
    for alert in gone:
        _close(alert, at)
    return len(gone)


def raise_override_alert(
    board: Board, *, column: Column, wip: int, reason: str, actor, at: datetime
) -> Alert:
    """A hard limit was passed on purpose: keep the exception visible until WIP is back."""
    key = f"override:column:{column.pk}"
    existing = Alert.objects.filter(board=board, key=key, closed_at__isnull=True).first()
    detail = (
        f"{column.name}: hard WIP limit {column.wip_limit} overridden by {actor.username}: {reason}"
    )[:300]
    data = {"wip": wip, "limit": column.wip_limit, "reason": reason, "by": actor.username}
    if existing is not None:
        existing.detail, existing.data = detail, data
        existing.save(update_fields=["detail", "data"])
        return existing
    alert = Alert.objects.create(
        board=board,
        key=key,
        kind=AlertKind.WIP_OVERRIDE,
        column=column,
        detail=detail,
        data=data,
        opened_at=at,
    )
    append_event(
        board.pk, type="alert.raised", data={"alert": alert_dict(alert)}, actor=actor, at=at
    )
    return alert


@transaction.atomic
def check_wip_alerts(board_id: int, *, at: datetime | None = None) -> dict[str, int]:
    """Make the board's open WIP alerts match its WIP now: columns, swimlanes, and the personal
    limits of the people with cards on it. Returns how many were raised and closed."""
    at = at or timezone.now()
    board = _lock_board(board_id)
    if board is None:
        return {"raised": 0, "closed": 0}  # deleted since the task was queued
    open_alerts = {a.key: a for a in Alert.objects.filter(board=board, closed_at__isnull=True)}
    breached: set[str] = set()
    raised = 0

    columns = Column.objects.filter(board=board).annotate(
        wip=Count("cards", filter=Q(cards__archived=False))
    )
    for column in columns:
        if column.wip_limit is None or column.wip <= column.wip_limit:
            continue
        key = f"column:{column.pk}"
        breached.add(key)
        raised += bool(
            _open(
                board,
                key=key,
                kind=AlertKind.WIP_COLUMN,
                column=column,
                at=at,
                open_alerts=open_alerts,
                data={"wip": column.wip, "limit": column.wip_limit},
                detail=f"{column.name} holds {column.wip} cards, over its WIP limit of "
                f"{column.wip_limit}.",
            )
        )
    # An override stays visible until the column is back within its limit.
    breached |= {
        f"override:column:{c.pk}"
        for c in columns
        if c.wip_limit is not None and c.wip > c.wip_limit
    }

    lanes = Swimlane.objects.filter(board=board, wip_limit__isnull=False).annotate(
        wip=Count("cards", filter=Q(cards__archived=False, cards__column__stage__in=IN_PROGRESS))
    )
    for lane in lanes:
        if lane.wip <= lane.wip_limit:
            continue
        key = f"swimlane:{lane.pk}"
        breached.add(key)
        raised += bool(
            _open(
                board,
                key=key,
                kind=AlertKind.WIP_SWIMLANE,
                swimlane=lane,
                at=at,
                open_alerts=open_alerts,
                data={"wip": lane.wip, "limit": lane.wip_limit},
                detail=f"Lane {lane.name} has {lane.wip} cards in progress, over its limit of "
                f"{lane.wip_limit}.",
            )
        )

    # Classes of service with a WIP limit (boards.models.ServiceLevel): cards of the class in
    # progress, over the board.
    limits = {
        level.class_of_service: level.wip_limit
        for level in ServiceLevel.objects.filter(board=board, wip_limit__isnull=False)
    }
    if limits:
        class_wip = dict(
            Card.objects.filter(
                board=board,
                archived=False,
                column__stage__in=IN_PROGRESS,
                class_of_service__in=list(limits),
            )
            .values("class_of_service")
            .annotate(n=Count("id"))
            .values_list("class_of_service", "n")
        )
        for cos, limit in limits.items():
            wip = class_wip.get(cos, 0)
            if limit is None or wip <= limit:
                continue
            key = f"class:{cos}"
            breached.add(key)
            label = ClassOfService(cos).label
            raised += bool(
                _open(
                    board,
                    key=key,
                    kind=AlertKind.WIP_CLASS,
                    at=at,
                    open_alerts=open_alerts,
                    data={"wip": wip, "limit": limit, "class_of_service": cos},
                    detail=f"{label} work: {wip} cards in progress, over its WIP limit of {limit}.",
                )
            )

    # Personal limits count work in progress on every board of the organisation.
    people = (
        Membership.objects.filter(
            organization_id=board.organization_id,
            wip_limit__isnull=False,
            user__assigned_cards__board=board,
        )
        .select_related("user")
        .distinct()
    )
    for membership in people:
        wip = Card.objects.filter(
            assignees=membership.user,
            archived=False,
            board__organization_id=board.organization_id,
            column__stage__in=IN_PROGRESS,
        ).count()
        # `people` holds only members with a personal limit
        if wip <= membership.wip_limit:  # type: ignore[operator]
            continue
        key = f"person:{membership.user_id}"
        breached.add(key)
        raised += bool(
            _open(
                board,
                key=key,
                kind=AlertKind.WIP_PERSON,
                user=membership.user,
                at=at,
                open_alerts=open_alerts,
                data={"wip": wip, "limit": membership.wip_limit},
                detail=f"{membership.user.display_name} has {wip} cards in progress, over their "
                f"personal limit of {membership.wip_limit}.",
            )
        )

    closed = 0
    for key, alert in open_alerts.items():
        if alert.kind in (AlertKind.AGEING, AlertKind.SLE) or key in breached:
            continue
        _close(alert, at)
        closed += 1
    return {"raised": raised, "closed": closed}


@transaction.atomic
def check_ageing_alerts(
    board_id: int, *, threshold_days: float | None, at: datetime | None = None
) -> dict[str, int]:
    """Raise an alert for each card whose time in its current stage exceeds `threshold_days`
    (the board's 85th-percentile cycle time); close those that moved on or finished."""
    at = at or timezone.now()
    board = _lock_board(board_id)
    if board is None:
        return {"raised": 0, "closed": 0}
    open_alerts = {
        a.key: a
        for a in Alert.objects.filter(board=board, kind=AlertKind.AGEING, closed_at__isnull=True)
    }
    ageing: set[str] = set()
    raised = 0
    if threshold_days:
        entered = (
            CardMove.objects.filter(card=OuterRef("pk"), to_stage=OuterRef("column__stage"))
            .exclude(from_stage=F("to_stage"))
            .order_by("-at")
            .values("at")[:1]
        )
        cutoff = at - timedelta(days=threshold_days)
        cards = (
            Card.objects.filter(board=board, archived=False, column__stage__in=IN_PROGRESS)
            .annotate(entered_stage=Subquery(entered))
            .filter(entered_stage__lt=cutoff)
            .select_related("column")
        )
        for card in cards:
            key = f"card:{card.pk}"
            ageing.add(key)
            days = (at - card.entered_stage).total_seconds() / 86_400
            raised += bool(
                _open(
                    board,
                    key=key,
                    kind=AlertKind.AGEING,
                    card=card,
                    column=card.column,
                    at=at,
                    open_alerts=open_alerts,
                    data={"age_days": round(days, 1), "threshold_days": round(threshold_days, 2)},
                    detail=(
                        f"{card.title[:120]} has been in {card.column.stage} for {days:.1f} "
                        f"days, past the board's 85th-percentile cycle time "
                        f"({threshold_days:.1f} d)."
                    ),
                )
            )
    return {"raised": raised, "closed": _close_all_but(ageing, open_alerts, at)}


@transaction.atomic
def check_sle_alerts(board_id: int, *, at: datetime | None = None) -> dict[str, int]:
    """An alert for each started card in progress at risk of breaching its class's service
    level expectation (AT_RISK_FRACTION of it used) or past it: the warning comes while there
    is time to act. Closed when the card finishes, leaves progress or its SLE grows."""
    from boards.flow.service_levels import board_service_levels, cards_at_risk, sle_by_class

    at = at or timezone.now()
    board = _lock_board(board_id)
    if board is None:
        return {"raised": 0, "closed": 0}
    open_alerts = {
        a.key: a
        for a in Alert.objects.filter(board=board, kind=AlertKind.SLE, closed_at__isnull=True)
    }
    risky: set[str] = set()
    raised = 0
    for card in cards_at_risk(board, at, sle_by_class(board_service_levels(board, at))):
        key = f"sle:card:{card['card']}"
        risky.add(key)
        state = "past" if card["state"] == "breached" else "at risk of breaching"
        raised += bool(
            _open(
                board,
                key=key,
                kind=AlertKind.SLE,
                card_id=card["card"],
                column_id=card["column"],
                at=at,
                open_alerts=open_alerts,
                data={
                    "state": card["state"],
                    "age_days": round(card["age_days"], 1),
                    "sle_days": card["sle_days"],
                },
                detail=(
                    f"{card['title'][:120]} is {state} its service level expectation: "
                    f"{card['age_days']:.1f} of {card['sle_days']:.1f} days "
                    f"({ClassOfService(card['class_of_service']).label.lower()})."
                ),
            )
        )
    return {"raised": raised, "closed": _close_all_but(risky, open_alerts, at)}
