"""The writes of improvements: create (a draft), start (capture the baseline), review (the
after-period and its XmR checks), and the beat's close of due reviews. Keyword-only, an
`actor` whose right to write the board is checked here; the metrics are computed before the
row is locked (slow reads outside locks), then the row is locked and its state checked again.

Starting and reviewing append a board event (`improvement.started`, `improvement.reviewed`)
in the write's transaction, published after its commit, so that the board's viewers and the
activity feed hear of it; the board row is held (KEY SHARE) before the improvement's lock, as
every writer without a column lock does, so that a board's delete waits for it."""

import logging
from datetime import UTC, date, datetime, timedelta

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from boards.flow import metrics
from boards.kaizen import measures
from boards.live.events import append_event
from boards.models import (
    Board,
    ClassOfService,
    Improvement,
    ImprovementMetric,
    ImprovementStatus,
)
from boards.services.access import ensure_can_write
from boards.services.rules import _hold_board
from kanban.exceptions import Conflict, DomainError, InvalidInput, NotFound

logger = logging.getLogger(__name__)


def _today(now: datetime) -> date:
    return now.astimezone(UTC).date()


def _check_day(field: str, day: date) -> None:
    if not metrics.EARLIEST_DAY <= day <= metrics.LATEST_DAY:
        problem = f"Pick a day between {metrics.EARLIEST_DAY} and {metrics.LATEST_DAY}."
        raise InvalidInput(problem, fields={field: [problem]})


@transaction.atomic
def create_improvement(
    board: Board,
    *,
    title: str,
    target_metric: str,
    review_on: date,
    hypothesis: str = "",
    baseline_weeks: int = 6,
    scope_class_of_service: str | None = None,
    actor: User,
) -> Improvement:
    """A draft. `scope_class_of_service`: its figures count only that class's cards (None: the
    whole board)."""
    ensure_can_write(actor, board)
    if scope_class_of_service is not None and scope_class_of_service not in ClassOfService.values:
        raise InvalidInput(
            f"Unknown class of service {scope_class_of_service!r}.",
            fields={"scope_class_of_service": [f"One of {', '.join(ClassOfService.values)}."]},
        )
    if not title.strip():
        raise InvalidInput("The improvement needs a title.", fields={"title": ["Required."]})
    if target_metric not in ImprovementMetric.values:
        raise InvalidInput(
            f"Unknown target metric {target_metric!r}.",
            fields={"target_metric": [f"One of {', '.join(ImprovementMetric.values)}."]},
        )
    if not 2 <= baseline_weeks <= 26:
        problem = "A baseline is 2 to 26 weeks."
        raise InvalidInput(problem, fields={"baseline_weeks": [problem]})
    _check_day("review_on", review_on)
    return Improvement.objects.create(
        board=board,
        title=title.strip(),
        hypothesis=hypothesis,
        target_metric=target_metric,
        baseline_weeks=baseline_weeks,
        review_on=review_on,
        scope_class_of_service=scope_class_of_service,
        created_by=actor,
    )


def _lock(improvement: Improvement) -> Improvement:
    """The improvement's row, locked, read afresh (NotFound if it went with its board); the
    board row held first (the lock order: board KEY SHARE, improvement, then the board's
    `last_seq` by the event's append)."""
    _hold_board(improvement.board_id)
    locked = Improvement.objects.select_for_update().filter(pk=improvement.pk).first()
    if locked is None:
        raise NotFound("Improvement not found.")
    return locked


def event_data(improvement: Improvement) -> dict:
    """What the improvement's events carry: enough for a feed's sentence and a chart's marker
    without a read."""
    data = {
        "id": improvement.pk,
        "title": improvement.title,
        "target_metric": improvement.target_metric,
        "scope_class_of_service": improvement.scope_class_of_service,
        "status": improvement.status,
        "started_on": (
            _today(improvement.started_at).isoformat() if improvement.started_at else None
        ),
    }
    if improvement.result:
        data["verdict"] = improvement.result.get("verdict")
        data["signal"] = improvement.result.get("signal")
        data["final"] = improvement.result.get("final")
    return {"improvement": data}


def start_improvement(
    improvement: Improvement,
    *,
    started_on: date | None = None,
    actor: User,
    now: datetime | None = None,
) -> Improvement:
    """Start the experiment on `started_on` (today by default; a past day for a change already
    made) and capture its baseline: the board's figures over the `baseline_weeks` weeks before
    that day. Conflict if it was started already."""
    now = now or timezone.now()
    ensure_can_write(actor, improvement.board)
    day = started_on or _today(now)
    _check_day("started_on", day)
    if day > _today(now):
        problem = "An improvement cannot start in the future: start it on the day of the change."
        raise InvalidInput(problem, fields={"started_on": [problem]})
    if improvement.review_on < day + measures.WEEK:
        problem = "The review must be at least a week after the start, for one week to compare."
        raise InvalidInput(problem, fields={"review_on": [problem]})
    first = day - improvement.baseline_weeks * measures.WEEK
    _check_day("started_on", first)
    if improvement.status != ImprovementStatus.DRAFT:
        raise Conflict("This improvement has already started.")
    baseline = measures.period(
        improvement.board,
        first,
        improvement.baseline_weeks,
        now=now,
        class_of_service=improvement.scope_class_of_service,
    )
    with transaction.atomic():
        locked = _lock(improvement)
        if locked.status != ImprovementStatus.DRAFT:  # started meanwhile by someone else
            raise Conflict("This improvement has already started.")
        locked.status = ImprovementStatus.RUNNING
        locked.started_at = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
        locked.baseline = dict(baseline)
        locked.save(update_fields=["status", "started_at", "baseline"])
        append_event(
            locked.board_id, type="improvement.started", data=event_data(locked), actor=actor
        )
    return locked


def review_improvement(
    improvement: Improvement, *, actor: User, now: datetime | None = None
) -> Improvement:
    """Compute the result now: on demand before the review date (an interim look; it stays
    running), final on or after it (reviewed)."""
    ensure_can_write(actor, improvement.board)
    return _review(improvement, now=now or timezone.now(), actor=actor)


def _review(improvement: Improvement, *, now: datetime, actor: User | None = None) -> Improvement:
    if improvement.status == ImprovementStatus.DRAFT or improvement.started_at is None:
        raise Conflict("Start the improvement first: it has no baseline yet.")
    start = _today(improvement.started_at)
    end = min(improvement.review_on, _today(now))  # the after-period ends the day before
    weeks = (end - start).days // 7
    if weeks < 1:
        first_end = start + measures.WEEK - timedelta(days=1)
        raise Conflict(
            f"The first week after the start ends on {first_end}: review after that day."
        )
    after = measures.period(
        improvement.board,
        start,
        weeks,
        now=now,
        class_of_service=improvement.scope_class_of_service,
    )
    baseline: measures.Period = improvement.baseline  # type: ignore[assignment]  # stored Period
    checks = {
        metric: measures.check_metric(metric, baseline["weeks"], after["weeks"])
        for metric in ImprovementMetric.values
    }
    target = checks[improvement.target_metric]
    result = {
        **after,
        "checks": checks,
        "signal": target["signal"],
        "verdict": target["verdict"],
        "final": _today(now) >= improvement.review_on,
        "computed_at": now.isoformat(),
    }
    with transaction.atomic():
        locked = _lock(improvement)
        locked.result = result
        update = ["result"]
        if result["final"]:
            locked.status = ImprovementStatus.REVIEWED
            locked.reviewed_at = now
            update += ["status", "reviewed_at"]
        locked.save(update_fields=update)
        append_event(
            locked.board_id,
            type="improvement.reviewed",
            data=event_data(locked),
            actor=actor,
        )
    return locked


def due_for_review(*, now: datetime | None = None) -> list[int]:
    """The running improvements whose review date has come (the beat task queues one review
    each, so that each has its own time limit: a review of a long history takes seconds)."""
    now = now or timezone.now()
    return list(
        Improvement.objects.filter(
            status=ImprovementStatus.RUNNING, review_on__lte=_today(now)
        ).values_list("pk", flat=True)
    )


def close_review(improvement_id: int, *, now: datetime | None = None) -> Improvement | None:
    """The system's final review of a due improvement, which needs nobody's right to write.
    Idempotent: one already reviewed, gone, or not due is left alone (None)."""
    now = now or timezone.now()
    improvement = (
        Improvement.objects.filter(
            pk=improvement_id, status=ImprovementStatus.RUNNING, review_on__lte=_today(now)
        )
        .select_related("board")
        .first()
    )
    if improvement is None:
        return None
    try:
        return _review(improvement, now=now)
    except DomainError:
        # Deleted or changed meanwhile: nothing to close.
        logger.warning("Improvement %s could not be reviewed", improvement_id, exc_info=True)
        return None


def close_due_reviews(*, now: datetime | None = None) -> int:
    """Close every due review in this process (the embedded default and the tests; the beat's
    task queues one task each instead)."""
    return sum(close_review(pk, now=now) is not None for pk in due_for_review(now=now))
