"""Celery tasks of the webhooks, thin: ids in, a service called. Queued by name after commit
(boards.flow.followups.queue). Idempotent under redelivery (acks_late): a dispatch advances
cursors it locks, and a send claims its delivery first, so a duplicate task finds nothing to
do; a receiver may still see a delivery twice (a worker dying between its POST and its
record), which is why the `webhook-id` never changes."""

from celery import shared_task
from django.conf import settings
from django.core.cache import cache

from boards.flow.followups import hooks_pending_key, queue
from boards.hooks import idempotency, services


@shared_task(name="boards.hooks.dispatch")
def dispatch(board_id: int) -> int:
    cache.delete(hooks_pending_key(board_id))  # before reading: later changes queue another
    return services.dispatch_board(board_id)


@shared_task(name="boards.hooks.send")
def send(delivery_id: int) -> str:
    delivery = services.claim(delivery_id)
    if delivery is None:
        return "skipped"
    delay = services.send(delivery)
    # Short waits as a countdown; longer ones (hours) are left to the sweep, because Redis
    # hands an unacknowledged task with a long ETA to a second worker after its visibility
    # timeout.
    if delay is not None and delay <= settings.WEBHOOK_COUNTDOWN_MAX:
        queue("boards.hooks.send", delivery_id, countdown=delay)
    return "sent"


@shared_task(name="boards.hooks.sweep")
def sweep() -> dict[str, int]:
    """Beat, every WEBHOOK_SWEEP_SECONDS: dispatch the boards whose events some hook has not
    had yet (a trigger lost, a change that queued none), and send the deliveries due for a
    while that no task holds (a retry hours away, a task lost with its worker)."""
    boards = services.boards_to_dispatch()
    for board_id in boards:
        queue("boards.hooks.dispatch", board_id)
    overdue = services.overdue_deliveries(older_than=settings.WEBHOOK_SWEEP_SECONDS)
    for delivery_id in overdue:
        queue("boards.hooks.send", delivery_id)
    return {"boards": len(boards), "deliveries": len(overdue)}


@shared_task(name="boards.hooks.purge_idempotency_keys")
def purge_idempotency_keys() -> int:
    return idempotency.purge_expired()
