"""What follows a change to a board: its WIP alerts checked, its metrics refreshed, by Celery
once the change has committed (boards.tasks runs them).

The services call `after_board_change` inside their transaction; it queues `board_changed`
after the commit, unless a run of it already waits to start (which will see this change): a
burst of moves costs one task, not one per move, and a steady stream one a second. The tasks
are queued by name through the Celery app, so that this module (below the services) does not
import the task module (the edge above them).
"""

import logging
import threading
import time
from contextlib import contextmanager

from celery import current_app
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q

from boards.models import Board, Webhook

logger = logging.getLogger(__name__)

# At most one metrics recompute per board in this many seconds, however many moves.
METRICS_DEBOUNCE_SECONDS = 5


def queue(task_name: str, *args, **options) -> None:
    """Queue a task by name (eagerly run where the settings say tasks run in-process)."""
    current_app.tasks[task_name].apply_async(args, **options)


def _debounce_key(board_id: int) -> str:
    return f"metrics-scheduled:{board_id}"


def _pending_key(board_id: int) -> str:
    return f"board-changed-pending:{board_id}"


def _started_key(board_id: int) -> str:
    return f"board-changed-started:{board_id}"


# A queued run that never started (its worker's queue lost) holds back no others for longer.
PENDING_SECONDS = 60
# Under a steady stream of changes a board's run starts at most this often (each reads the
# whole board), instead of back to back for as long as the worker can keep up; after a quiet
# spell the next change's run starts at once.
BOARD_CHANGED_EVERY_SECONDS = 1.0


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


def after_board_change(board_id: int) -> None:
    """Called by the services inside their transaction. Once it commits, queue `board_changed`
    unless a run of it is already waiting to start (which will see this change): a burst of
    moves costs one task, not one per move, and a steady stream one a second. Scheduling
    never fails the change: the broker or cache being down is logged, and the periodic tasks
    catch up."""
    if getattr(_suspended, "active", False):
        return
    transaction.on_commit(lambda: _schedule(board_id))
    transaction.on_commit(lambda: _schedule_hooks(board_id))


def hooks_pending_key(board_id: int) -> str:
    return f"hooks-dispatch-pending:{board_id}"


def _hooks_watch_key(board_id: int) -> str:
    return f"hooks-watched:{board_id}"


# How long "this board has (no) webhooks" is believed without asking the database again; the
# webhook services forget it when a hook is created or enabled, and the sweep (10 s) catches
# up whatever a stale answer held back.
HOOKS_WATCH_SECONDS = 60


def forget_hooks_watch(board_ids) -> None:
    """Called by the webhook services (after commit) when the hooks watching these boards
    changed."""
    cache.delete_many([_hooks_watch_key(b) for b in board_ids])
    for board_id in board_ids:
        _local_watch.pop(board_id, None)


# This process's own copy of the answers, for a few seconds: a move then asks Redis nothing
# about webhooks. A hook created elsewhere is noticed within this much more (and the sweep
# sends what it held back meanwhile).
LOCAL_WATCH_SECONDS = 5
_local_watch: dict[int, tuple[float, bool]] = {}


def _watched(board_id: int) -> bool:
    now = time.monotonic()
    kept = _local_watch.get(board_id)
    if kept is not None and now - kept[0] < LOCAL_WATCH_SECONDS:
        return kept[1]
    key = _hooks_watch_key(board_id)
    watched = cache.get(key)
    if watched is None:
        org = Board.objects.filter(pk=board_id).values("organization_id")
        watched = Webhook.objects.filter(
            Q(board_id=board_id) | Q(board__isnull=True, organization_id__in=org),
            is_active=True,
        ).exists()
        cache.set(key, watched, timeout=HOOKS_WATCH_SECONDS)
    if len(_local_watch) > 10_000:
        _local_watch.clear()
    _local_watch[board_id] = (now, watched)
    return watched


def _schedule_hooks(board_id: int) -> None:
    """Queue the webhooks' dispatch of the board's new events (boards.hooks), if a hook
    watches the board and no dispatch waits to start already. Not throttled like
    board_changed: it is the webhooks' delivery delay. A boards without hooks costs one cache
    read a change. A lost one is made up by the periodic sweep."""
    try:
        if _watched(board_id) and cache.add(
            hooks_pending_key(board_id), 1, timeout=PENDING_SECONDS
        ):
            try:
                queue("boards.hooks.dispatch", board_id)
            except Exception:
                cache.delete(hooks_pending_key(board_id))
                raise
    except Exception as exc:
        logger.warning("Could not schedule the webhooks of board %s: %s", board_id, exc)


# Board id -> until when (time.time()) the run of board_changed that waits to start cannot have
# started yet (its countdown's end, less CLOCK_MARGIN for the worker's clock): every change
# committed before then is seen by it, so this process's changes until then ask the cache
# nothing. A steady stream of moves then costs a cache call or two a second, not one a move.
_not_started_until: dict[int, float] = {}
CLOCK_MARGIN = 0.1


def _schedule(board_id: int) -> None:
    now = time.time()
    if _not_started_until.get(board_id, 0.0) > now:
        return
    try:
        last = cache.get(_started_key(board_id)) or 0.0
        wait = max(0.0, last + BOARD_CHANGED_EVERY_SECONDS - now)
        start = now + wait  # when a run queued now starts; the pending key tells the others
        if cache.add(_pending_key(board_id), start, timeout=PENDING_SECONDS):
            try:
                queue("boards.board_changed", board_id, countdown=wait)
            except Exception:
                cache.delete(_pending_key(board_id))  # none queued: the next change asks again
                raise
        else:  # queued by another change, maybe of another process: when does it start?
            start = cache.get(_pending_key(board_id)) or now
        if not current_app.conf.task_always_eager and start - CLOCK_MARGIN > now:
            if len(_not_started_until) > 10_000:
                _not_started_until.clear()
            _not_started_until[board_id] = start - CLOCK_MARGIN
    except Exception as exc:
        logger.warning("Could not schedule the checks of board %s: %s", board_id, exc)


def after_finish_waited_on(card_id: int, actor_id: int) -> None:
    """Called by the move inside its transaction when the card it finished has cards waiting on
    it: once it commits, queue `boards.end_waits`, which unblocks them. A task lost on the way
    is made up by `boards.sweep_waits` (beat)."""

    def _queue() -> None:
        try:
            queue("boards.end_waits", card_id, actor_id)
        except Exception as exc:
            logger.warning("Could not queue the end of the waits on card %s: %s", card_id, exc)

    transaction.on_commit(_queue)
