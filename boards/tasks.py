"""Celery tasks: thin, idempotent wrappers that take ids, fetch, and call alerts or metrics.

They are enqueued after commit (`delay_on_commit`), so a task never runs on data its
transaction did not commit; with `acks_late` a task whose worker died is redelivered, which is
harmless because every task here converges on the current state rather than applying a delta.
"""

import logging
import threading
from contextlib import contextmanager
from datetime import datetime

from celery import shared_task
from django.core.cache import cache
from django.db import transaction

from boards import alerts, metrics
from boards.models import Board

logger = logging.getLogger(__name__)

# At most one metrics recompute per board in this many seconds, however many moves.
METRICS_DEBOUNCE_SECONDS = 5


@shared_task(name="boards.check_wip")
def check_wip(board_id: int, at: str | None = None) -> dict[str, int]:
    # Started: changes from now on queue another check (see _schedule). Removed before reading,
    # so that every change is seen by this check or queues the next one.
    cache.delete(_wip_pending_key(board_id))
    return alerts.check_wip_alerts(board_id, at=datetime.fromisoformat(at) if at else None)


@shared_task(name="boards.recompute_metrics")
def recompute_metrics(board_id: int) -> int | None:
    snapshot = metrics.refresh_after_change(board_id)
    return snapshot.duration_ms if snapshot else None


@shared_task(name="boards.check_ageing")
def check_ageing(board_id: int | None = None) -> int:
    """Ageing alerts for one board, or (from beat) for every board."""
    board_ids = [board_id] if board_id else list(Board.objects.values_list("pk", flat=True))
    for pk in board_ids:
        board = Board.objects.filter(pk=pk).first()
        if board is None:
            continue  # deleted since
        # The board's p85 cycle time over the rolling window, as its metrics show it.
        snapshot = metrics.stored_or_computed(board)
        alerts.check_ageing_alerts(pk, threshold_days=snapshot.data["cycle_time"]["p85"])
    return len(board_ids)


@shared_task(name="boards.refresh_all_metrics")
def refresh_all_metrics() -> int:
    board_ids = list(Board.objects.values_list("pk", flat=True))
    for pk in board_ids:
        metrics.refresh_snapshot(pk)
    return len(board_ids)


def _debounce_key(board_id: int) -> str:
    return f"metrics-scheduled:{board_id}"


def _wip_pending_key(board_id: int) -> str:
    return f"wip-check-pending:{board_id}"


# A queued WIP check that never started (its worker's queue lost) blocks no checks for longer.
WIP_CHECK_PENDING_SECONDS = 60


_suspended = threading.local()


@contextmanager
def suspended():
    """Hold back the checks that changes schedule (for a replay of history, such as the demo
    loader's, which checks alerts on its own clock and asks once per board at the end)."""
    _suspended.active = True
    try:
        yield
    finally:
        _suspended.active = False


def after_board_change(board_id: int, *, at: datetime | None = None) -> None:
    """Called by the services inside their transaction. Once it commits: check the board's WIP
    alerts, and refresh its metrics a few seconds later, once, however many changes come
    meanwhile (the first change sets a key that lives as long as the countdown, so the run
    sees every change made before it). WIP checks coalesce too: at most one waits to start per
    board, and it sees every change committed before it starts. Scheduling never fails the
    change: the broker or cache being down is logged, and the periodic tasks catch up."""
    if getattr(_suspended, "active", False):
        return
    stamp = at.isoformat() if at else None
    transaction.on_commit(lambda: _schedule(board_id, stamp))


def _schedule(board_id: int, at: str | None) -> None:
    try:
        if cache.add(_wip_pending_key(board_id), 1, timeout=WIP_CHECK_PENDING_SECONDS):
            try:
                check_wip.delay(board_id, at)
            except Exception:
                cache.delete(_wip_pending_key(board_id))  # none queued: the next change asks
                raise
        if cache.add(_debounce_key(board_id), 1, timeout=METRICS_DEBOUNCE_SECONDS):
            recompute_metrics.apply_async((board_id,), countdown=METRICS_DEBOUNCE_SECONDS)
    except Exception as exc:
        logger.warning("Could not schedule the checks of board %s: %s", board_id, exc)
