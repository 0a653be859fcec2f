"""Celery tasks: thin, idempotent wrappers that take ids, fetch, and call alerts, metrics or
the Trello import.

They are enqueued after commit (`transaction.on_commit`), so a task never runs on data its
transaction did not commit; with `acks_late` a task whose worker died is redelivered, which is
harmless because every task here converges on the current state rather than applying a delta.
"""

import logging
import time

from celery import shared_task
from django.conf import settings
from django.core.cache import cache

from boards import selectors
from boards.flow import alerts, metrics
from boards.flow.followups import (
    BOARD_CHANGED_EVERY_SECONDS,
    METRICS_DEBOUNCE_SECONDS,
    _debounce_key,
    _pending_key,
    _started_key,
)
from boards.models import Board, Event
from boards.services import cards, trello

logger = logging.getLogger(__name__)


@shared_task(name="boards.board_changed")
def board_changed(board_id: int) -> dict[str, int]:
    """What follows changes to a board: its WIP alerts checked now, its metrics refreshed a few
    seconds later (once, however many changes come meanwhile: the first sets a key that lives
    as long as the countdown, so the refresh sees every change made before it). An alert
    opened or closed here is dated by the board's last change that this run sees."""
    # Started: changes from now on queue another run (see _schedule). Removed before reading,
    # so that every change is seen by this run or queues the next one.
    cache.delete(_pending_key(board_id))
    cache.set(_started_key(board_id), time.time(), timeout=BOARD_CHANGED_EVERY_SECONDS * 10)
    if cache.add(_debounce_key(board_id), 1, timeout=METRICS_DEBOUNCE_SECONDS):
        recompute_metrics.apply_async((board_id,), countdown=METRICS_DEBOUNCE_SECONDS)
    last_change = (
        Event.objects.filter(board_id=board_id).order_by("-seq").values_list("at", flat=True)
    ).first()
    return alerts.check_wip_alerts(board_id, at=last_change)


@shared_task(name="boards.sweep_wip")
def sweep_wip() -> int:
    """Check the WIP alerts of every board changed since the last sweep (all of them when the
    last sweep is not known: a first run, or Redis restarted), and let every change from now
    on queue its own check again. Beat runs it every 30 s and a worker when it starts, so
    that a board over its limit gets its alert within a minute however the check its change
    queued was lost. Idempotent, like the checks."""
    last = cache.get(_SWEPT_KEY)
    newest = Event.objects.order_by("-id").values_list("id", flat=True).first() or 0
    if last is None:
        board_ids = list(Board.objects.values_list("pk", flat=True))
    else:
        board_ids = list(
            Event.objects.filter(id__gt=last, id__lte=newest)
            .values_list("board_id", flat=True)
            .distinct()
        )
    cache.delete_many([_pending_key(pk) for pk in board_ids])
    for pk in board_ids:
        board_changed(pk)
    cache.set(_SWEPT_KEY, newest, timeout=None)
    return len(board_ids)


_SWEPT_KEY = "wip-swept-event"


@shared_task(name="boards.recompute_metrics")
def recompute_metrics(board_id: int) -> int | None:
    snapshot = metrics.refresh_after_change(board_id)
    return snapshot.duration_ms if snapshot else None


@shared_task(name="boards.check_ageing")
def check_ageing(board_id: int | None = None) -> int:
    """Ageing and service level alerts for one board, or (from beat) for every board."""
    board_ids = [board_id] if board_id else list(Board.objects.values_list("pk", flat=True))
    for pk in board_ids:
        # A board deleted since is skipped by each check (it locks the board row first).
        # The one ageing threshold (the board's p85 cycle time), as the board, the stand-up,
        # the global board and the metrics page's ageing chart draw it.
        alerts.check_ageing_alerts(pk, threshold_days=selectors.typical_cycle_time_days(pk))
        alerts.check_sle_alerts(pk)
    return len(board_ids)


@shared_task(name="boards.refresh_all_metrics")
def refresh_all_metrics() -> int:
    board_ids = list(Board.objects.values_list("pk", flat=True))
    for pk in board_ids:
        metrics.refresh_snapshot(pk)
    return len(board_ids)


@shared_task(name="boards.release_done_cards")
def release_done_cards() -> int:
    """Every board's release policy (Board.release_done_after_days): its cards finished more
    than that many days ago archived, a batch (cards.RELEASE_BATCH) per transaction, until
    none is due. Beat runs it hourly; idempotent (a card archived is no longer due)."""
    archived = 0
    for pk in Board.objects.filter(release_done_after_days__isnull=False).values_list(
        "pk", flat=True
    ):
        while True:
            n = cards.release_done_cards(Board(pk=pk), limit=cards.RELEASE_BATCH)
            archived += n
            if n < cards.RELEASE_BATCH:
                break
    return archived


# The import's own limits, above the global 120 s: a big board takes a while (5,000 cards
# ~15 s, bench/RESULTS.md). The soft limit lets the run delete its partial board and say why;
# the broker's visibility timeout (settings) is longer than the hard one, so that Redis never
# hands the task to a second worker while the first still runs it.
@shared_task(
    name="boards.import_trello",
    time_limit=settings.IMPORT_TIME_LIMIT + 60,
    soft_time_limit=settings.IMPORT_TIME_LIMIT,
)
def import_trello(job_id: int) -> str | None:
    """Run the import job (boards.services.trello.run_trello_import): idempotent, as a redelivered
    job that already ended is left alone and one left running by a dead worker restarts."""
    job = trello.run_trello_import(job_id)
    return job.status if job else None


@shared_task(name="boards.end_waits")
def end_waits(card_id: int, actor_id: int | None = None) -> int:
    """The card was finished and others waited on it: end those waits and unblock the cards
    (boards.services.waits.end_waits_on_finished, idempotent: a redelivery finds them ended)."""
    from accounts.models import User
    from boards.services.waits import end_waits_on_finished

    actor = User.objects.filter(pk=actor_id).first() if actor_id else None
    return len(end_waits_on_finished(card_id, actor=actor))


@shared_task(name="boards.sweep_waits")
def sweep_waits() -> int:
    """Beat, every minute: end the open waits on finished cards whose `end_waits` was lost
    (the broker down at the commit, a worker gone). One indexed query when there is none."""
    from boards.services.waits import end_waits_on_finished, finished_waited_on

    card_ids = finished_waited_on()
    for card_id in card_ids:
        end_waits_on_finished(card_id, actor=None)
    return len(card_ids)
