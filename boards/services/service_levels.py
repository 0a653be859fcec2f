"""A board's service levels per class of service (ServiceLevel): the SLE it promises, and the
class's WIP limit, which moves and card creation enforce (boards.services.rules
._check_class_wip)."""

import math
from datetime import datetime
from typing import Any

from django.db import transaction

from accounts.models import User
from boards.live.events import append_event
from boards.models import Board, ClassOfService, ServiceLevel, WipPolicy
from boards.services.access import ensure_can_write
from boards.services.rules import _after_change, _hold_board
from kanban.exceptions import InvalidInput
from kanban.sentinels import UNSET, Unset

MAX_SLE_DAYS = 3650.0


def service_level_dict(level: ServiceLevel) -> dict[str, Any]:
    return {
        "class_of_service": level.class_of_service,
        "sle_days": level.sle_days,
        "wip_limit": level.wip_limit,
        "wip_policy": level.wip_policy,
    }


def _validate(*, class_of_service: str, sle_days: Any, wip_limit: Any, wip_policy: Any) -> None:
    if class_of_service not in ClassOfService.values:
        raise InvalidInput(
            "Unknown class of service.",
            fields={"class_of_service": [f"One of {', '.join(ClassOfService.values)}."]},
        )
    if isinstance(sle_days, int | float) and not (
        math.isfinite(sle_days) and 0 < sle_days <= MAX_SLE_DAYS
    ):
        raise InvalidInput(
            "A service level expectation is more than 0 days and at most ten years (or null "
            "to derive it from the class's cycle time).",
            fields={"sle_days": ["More than 0, at most 3650."]},
        )
    if isinstance(wip_limit, int) and wip_limit < 1:
        raise InvalidInput(
            "A WIP limit is at least 1 (or null for none).", fields={"wip_limit": ["Min 1."]}
        )
    if wip_policy is not UNSET and wip_policy not in WipPolicy.values:
        raise InvalidInput("Unknown WIP policy.", fields={"wip_policy": ["soft or hard."]})


@transaction.atomic
def set_service_level(
    board: Board,
    *,
    class_of_service: str,
    sle_days: float | Unset | None = UNSET,
    wip_limit: int | Unset | None = UNSET,
    wip_policy: str | Unset = UNSET,
    actor: User,
    at: datetime | None = None,
) -> ServiceLevel:
    """Set what the board promises for one class of service (the fields given; the others
    stay). Appends a `service_level.updated` event when something changed.

    Holds the board row (KEY SHARE, as other writers without a column lock do), then locks the
    class's row: a move that checks the class's limit locks the same row after its columns and
    card, so a limit changes between two moves, never during one."""
    ensure_can_write(actor, board)
    _validate(
        class_of_service=class_of_service,
        sle_days=sle_days,
        wip_limit=wip_limit,
        wip_policy=wip_policy,
    )
    _hold_board(board.pk)
    level, _ = ServiceLevel.objects.get_or_create(board=board, class_of_service=class_of_service)
    level = ServiceLevel.objects.select_for_update(no_key=True).get(pk=level.pk)
    changed = []
    for name, value in (
        ("sle_days", sle_days),
        ("wip_limit", wip_limit),
        ("wip_policy", wip_policy),
    ):
        if value is not UNSET and getattr(level, name) != value:
            setattr(level, name, value)
            changed.append(name)
    if changed:
        level.save(update_fields=changed)
        append_event(
            board.pk,
            type="service_level.updated",
            data={"service_level": service_level_dict(level), "changed": changed},
            actor=actor,
            at=at,
        )
        _after_change(board.pk)  # a limit may have changed what is breached
    return level
