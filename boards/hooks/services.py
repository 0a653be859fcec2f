"""Every write of the webhooks: hooks managed by an organisation's owners and admins, their
deliveries made from the board's event log and their attempts recorded.

A delivery is made from the log, not by the change that wrote the event: the change's
transaction (the move's hot path) does nothing more than before, and the log's gap-free `seq`
with the per-(hook, board) cursor says exactly which events each hook still has to be sent.
The dispatch runs in Celery after the change commits (boards.flow.followups queues it) and
again from the periodic sweep, so a lost trigger delays deliveries but never loses one.
"""

import json
from datetime import datetime, timedelta

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import Q
from django.db.models.functions import Greatest
from django.utils import timezone

from accounts.models import Organization, User
from accounts.selectors import org_access
from boards.flow.followups import forget_hooks_watch, queue
from boards.hooks import network, signing
from boards.live.events import actor_dict, event_payload
from boards.models import (
    Board,
    DeliveryStatus,
    Event,
    Webhook,
    WebhookCursor,
    WebhookDelivery,
)
from kanban.exceptions import Forbidden, InvalidInput, NotFound

SEND_TASK = "boards.hooks.send"
DISPATCH_TASK = "boards.hooks.dispatch"
# Events turned into deliveries per hook and dispatch run; a longer backlog queues another run.
DISPATCH_BATCH = 500


def ensure_hook_manager(actor: User, organization_id: int) -> None:
    """Webhooks carry every event of the boards they watch to a URL of their owner's choice,
    with a secret: only the organisation's owners and admins manage them. Anyone outside it
    reads NotFound."""
    access = org_access(actor, organization_id)
    if not access.can_read:
        raise NotFound("Not found.")
    if not access.is_manager:
        raise Forbidden("Only an owner or admin of the organisation can manage webhooks.")


def _valid_url(url: str) -> str:
    problem = network.check_url_syntax(url)
    if problem:
        raise InvalidInput(problem, fields={"url": [problem]})
    return url


@transaction.atomic
def create_webhook(
    organization: Organization,
    *,
    url: str,
    board: Board | None = None,
    description: str = "",
    actor: User,
) -> Webhook:
    """A hook on one board of the organisation, or (board None) on all of them. It starts at
    each board's current seq: it receives what happens from now on, not the history (which
    GET /boards/{id}/events/ serves)."""
    ensure_hook_manager(actor, organization.pk)
    if board is not None and board.organization_id != organization.pk:
        raise InvalidInput("No such board.", fields={"board": ["No such board."]})
    webhook = Webhook.objects.create(
        organization=organization,
        board=board,
        url=_valid_url(url),
        description=description,
        secret=signing.new_secret(),
        created_by=actor,
    )
    boards = Board.objects.filter(pk=board.pk) if board else organization.boards.all()
    cursors = [
        WebhookCursor(webhook=webhook, board_id=b_id, seq=seq, acked_seq=seq)
        for b_id, seq in boards.values_list("pk", "last_seq")
    ]
    WebhookCursor.objects.bulk_create(cursors)
    board_ids = [c.board_id for c in cursors]
    transaction.on_commit(lambda: forget_hooks_watch(board_ids))
    return webhook


@transaction.atomic
def update_webhook(
    webhook: Webhook,
    *,
    url: str | None = None,
    description: str | None = None,
    is_active: bool | None = None,
    actor: User,
) -> Webhook:
    """Change a hook. Disabling holds its deliveries; enabling it again replays, from each
    board's last acknowledged seq, every event its receiver has not acknowledged (the same
    `webhook-id`s as before), then what happened while it was off."""
    ensure_hook_manager(actor, webhook.organization_id)
    webhook = Webhook.objects.select_for_update(no_key=True).get(pk=webhook.pk)
    if url is not None:
        webhook.url = _valid_url(url)
    if description is not None:
        webhook.description = description
    if is_active is False and webhook.is_active:
        webhook.is_active = False
        webhook.disabled_reason = f"Disabled by {actor.username}."
    elif is_active and not webhook.is_active:
        _replay(webhook, failing_since=webhook.failing_since)
        webhook.is_active = True
        webhook.disabled_reason = ""
        webhook.failing_since = None
        webhook.consecutive_failures = 0
    webhook.save()
    return webhook


def _replay(webhook: Webhook, *, failing_since: datetime | None) -> None:
    """Every unacknowledged delivery after each board's last acknowledged seq pending again,
    and those that failed during the streak that disabled the hook (deliveries are sent in
    parallel, so one may have failed below a later acknowledged seq)."""
    now = timezone.now()
    ids: list[int] = []
    for cursor in WebhookCursor.objects.filter(webhook=webhook):
        unacked = Q(seq__gt=cursor.acked_seq)
        if failing_since is not None:
            unacked |= Q(last_attempt_at__gte=failing_since)
        rows = WebhookDelivery.objects.filter(
            unacked, webhook=webhook, board_id=cursor.board_id
        ).exclude(status=DeliveryStatus.SUCCEEDED)
        ids += rows.order_by("seq").values_list("pk", flat=True)
        rows.update(
            status=DeliveryStatus.PENDING, window_start=now, next_attempt_at=now, claimed_until=None
        )
    board_ids = list(webhook.cursors.values_list("board_id", flat=True))

    def resume() -> None:
        forget_hooks_watch(board_ids)
        for delivery_id in ids:
            queue(SEND_TASK, delivery_id)
        for board_id in board_ids:  # and what happened while it was off
            queue(DISPATCH_TASK, board_id)

    transaction.on_commit(resume)


@transaction.atomic
def rotate_webhook_secret(webhook: Webhook, *, actor: User) -> Webhook:
    """A new secret; the old one keeps signing too (a second `v1,` signature) for
    WEBHOOK_ROTATION_GRACE, so that the receiver can switch without refusing a delivery."""
    ensure_hook_manager(actor, webhook.organization_id)
    webhook = Webhook.objects.select_for_update(no_key=True).get(pk=webhook.pk)
    webhook.previous_secret = webhook.secret
    webhook.previous_secret_expires_at = timezone.now() + timedelta(
        seconds=settings.WEBHOOK_ROTATION_GRACE
    )
    webhook.secret = signing.new_secret()
    webhook.save()
    return webhook


@transaction.atomic
def delete_webhook(webhook: Webhook, *, actor: User) -> None:
    ensure_hook_manager(actor, webhook.organization_id)
    webhook.delete()


@transaction.atomic
def redeliver(delivery: WebhookDelivery, *, actor: User) -> WebhookDelivery:
    """Send a delivery again, whatever became of it, with the same `webhook-id` (a receiver
    that already has it drops it), and retry it again as a new one would be."""
    ensure_hook_manager(actor, delivery.webhook.organization_id)
    now = timezone.now()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.PENDING, window_start=now, next_attempt_at=now, claimed_until=None
    )
    delivery.refresh_from_db()
    transaction.on_commit(lambda: queue(SEND_TASK, delivery.pk))
    return delivery


# --- made from the log, sent, recorded (the tasks' side: no actor, the system acts) -----------


def _body(event: Event) -> str:
    """The payload: the websocket's event (`type`, `board`, `seq`, `at`, `actor`, `data`) and
    the `timestamp` Standard Webhooks payloads carry."""
    payload = {"timestamp": event.at.isoformat(), **event_payload(event, actor_dict(event.actor))}
    return json.dumps(payload, cls=DjangoJSONEncoder, separators=(",", ":"))


def dispatch_board(board_id: int) -> int:
    """Turn the board's new events into deliveries for every active hook that watches it, and
    queue their sends after commit. Each hook's cursor row is locked while it advances, so two
    dispatches never make the same delivery (the unique (webhook, board, seq) would refuse it
    anyway). Returns how many deliveries it made."""
    board = Board.objects.filter(pk=board_id).values("organization_id", "last_seq").first()
    if board is None:
        return 0
    hook_ids = Webhook.objects.filter(
        Q(board_id=board_id) | Q(board__isnull=True, organization_id=board["organization_id"]),
        is_active=True,
    ).values_list("pk", flat=True)
    made = 0
    for hook_id in hook_ids:
        made += _dispatch_one(hook_id, board_id)
    return made


@transaction.atomic
def _dispatch_one(hook_id: int, board_id: int) -> int:
    # A board created after an organisation's hook has no cursor yet: it starts at 0, its whole
    # log is new.
    WebhookCursor.objects.get_or_create(webhook_id=hook_id, board_id=board_id)
    cursor = WebhookCursor.objects.select_for_update(no_key=True).get(
        webhook_id=hook_id, board_id=board_id
    )
    events = list(
        Event.objects.filter(board_id=board_id, seq__gt=cursor.seq)
        .select_related("actor")
        .order_by("seq")[: DISPATCH_BATCH + 1]
    )
    more = len(events) > DISPATCH_BATCH
    events = events[:DISPATCH_BATCH]
    if not events:
        return 0
    now = timezone.now()
    deliveries = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            webhook_id=hook_id,
            board_id=board_id,
            seq=event.seq,
            event_type=event.type,
            msg_id=signing.new_msg_id(),
            body=_body(event),
            window_start=now,
            next_attempt_at=now,
            created_at=now,
        )
        for event in events
    )
    cursor.seq = events[-1].seq
    cursor.save(update_fields=["seq"])
    ids = [d.pk for d in deliveries]

    def send() -> None:
        for delivery_id in ids:
            queue(SEND_TASK, delivery_id)
        if more:
            queue(DISPATCH_TASK, board_id)

    transaction.on_commit(send)
    return len(ids)


def claim(delivery_id: int) -> WebhookDelivery | None:
    """Take a due delivery of an active hook for one attempt, or None (done, not due, held by
    another worker, or its hook disabled). The claim lasts the request's timeout and a margin:
    a worker that dies holding it loses it to the sweep after that."""
    now = timezone.now()
    hold = timedelta(seconds=settings.WEBHOOK_TIMEOUT + 30)
    taken = WebhookDelivery.objects.filter(
        Q(claimed_until__isnull=True) | Q(claimed_until__lt=now),
        pk=delivery_id,
        status=DeliveryStatus.PENDING,
        next_attempt_at__lte=now + timedelta(seconds=1),  # a countdown may fire a bit early
        webhook__is_active=True,
    ).update(claimed_until=now + hold)
    if not taken:
        return None
    return WebhookDelivery.objects.select_related("webhook").get(pk=delivery_id)


def signing_secrets(webhook: Webhook, now: datetime) -> list[str]:
    keys = [webhook.secret]
    expires = webhook.previous_secret_expires_at
    if webhook.previous_secret and expires is not None and expires > now:
        keys.append(webhook.previous_secret)
    return keys


def retryable(outcome: network.Outcome) -> bool:
    """Timeouts, failed connections, 5xx, 408 and 429 are worth another try; any other answer
    (a 4xx, a redirect) or a refused address is the receiver's or the URL's final word."""
    if outcome.blocked:
        return False
    if outcome.status_code is None:
        return True
    return outcome.status_code >= 500 or outcome.status_code in (408, 429)


def next_delay(attempts: int, window_start: datetime, now: datetime) -> float | None:
    """Seconds until the next attempt after `attempts` failed ones, or None when the schedule
    (WEBHOOK_RETRY_DELAYS) or the window (WEBHOOK_RETRY_WINDOW from `window_start`) is over."""
    delays = settings.WEBHOOK_RETRY_DELAYS
    if attempts > len(delays):
        return None
    delay = float(delays[attempts - 1])
    if now + timedelta(seconds=delay) > window_start + timedelta(
        seconds=settings.WEBHOOK_RETRY_WINDOW
    ):
        return None
    return delay


@transaction.atomic
def record_attempt(delivery: WebhookDelivery, outcome: network.Outcome) -> float | None:
    """Write one attempt's outcome; on failure schedule the next (returns its delay in seconds)
    or give up, and disable the hook once it has failed for WEBHOOK_DISABLE_AFTER without a
    success (and at least WEBHOOK_DISABLE_MIN_FAILURES attempts)."""
    now = timezone.now()
    attempts = delivery.attempts + 1
    fields = {
        "attempts": attempts,
        "last_attempt_at": now,
        "last_status_code": outcome.status_code,
        "last_error": outcome.error[:300],
        "last_duration_ms": outcome.duration_ms,
        "claimed_until": None,
    }
    rows = WebhookDelivery.objects.filter(pk=delivery.pk)
    if outcome.ok:
        rows.update(
            **fields, status=DeliveryStatus.SUCCEEDED, succeeded_at=now, next_attempt_at=None
        )
        WebhookCursor.objects.filter(
            webhook_id=delivery.webhook_id, board_id=delivery.board_id
        ).update(acked_seq=Greatest("acked_seq", delivery.seq))
        # Only a hook that was failing is written: a stream of successes takes no row lock.
        Webhook.objects.filter(pk=delivery.webhook_id).exclude(
            failing_since__isnull=True, consecutive_failures=0
        ).update(failing_since=None, consecutive_failures=0)
        return None
    delay = next_delay(attempts, delivery.window_start, now) if retryable(outcome) else None
    if delay is None:
        rows.update(**fields, status=DeliveryStatus.FAILED, next_attempt_at=None)
    else:
        rows.update(**fields, next_attempt_at=now + timedelta(seconds=delay))
    webhook = Webhook.objects.select_for_update(no_key=True).get(pk=delivery.webhook_id)
    webhook.consecutive_failures += 1
    webhook.failing_since = webhook.failing_since or now
    if (
        webhook.is_active
        and webhook.consecutive_failures >= settings.WEBHOOK_DISABLE_MIN_FAILURES
        and now - webhook.failing_since >= timedelta(seconds=settings.WEBHOOK_DISABLE_AFTER)
    ):
        webhook.is_active = False
        webhook.disabled_reason = (
            f"Disabled after {webhook.consecutive_failures} failed attempts since "
            f"{webhook.failing_since:%Y-%m-%d %H:%M} UTC."
        )
    webhook.save(
        update_fields=["consecutive_failures", "failing_since", "is_active", "disabled_reason"]
    )
    return delay


def send(delivery: WebhookDelivery) -> float | None:
    """One attempt at a claimed delivery: signed now (the timestamp is the attempt's), POSTed,
    recorded. Returns the delay of the next attempt, if one is due."""
    now = timezone.now()
    body = delivery.body.encode()
    headers = signing.headers(
        signing_secrets(delivery.webhook, now), delivery.msg_id, int(now.timestamp()), body
    )
    outcome = network.post(delivery.webhook.url, body, headers, timeout=settings.WEBHOOK_TIMEOUT)
    return record_attempt(delivery, outcome)


_TO_DISPATCH_SQL = f"""
    SELECT DISTINCT b.id FROM {Board._meta.db_table} b
    JOIN {Webhook._meta.db_table} w ON w.is_active
        AND (w.board_id = b.id OR (w.board_id IS NULL AND w.organization_id = b.organization_id))
    LEFT JOIN {WebhookCursor._meta.db_table} c ON c.webhook_id = w.id AND c.board_id = b.id
    WHERE b.last_seq > COALESCE(c.seq, 0)
"""


def boards_to_dispatch() -> list[int]:
    """Boards with events that some active hook has not turned into deliveries yet (one query,
    whatever the number of boards)."""
    with connection.cursor() as cursor:
        cursor.execute(_TO_DISPATCH_SQL)
        return [row[0] for row in cursor.fetchall()]


def overdue_deliveries(*, older_than: float, limit: int = 1000) -> list[int]:
    """Pending deliveries of active hooks due for longer than `older_than` seconds and held by
    no one: their own task was lost, or their retry was too far off to queue as a countdown."""
    now = timezone.now()
    return list(
        WebhookDelivery.objects.filter(
            Q(claimed_until__isnull=True) | Q(claimed_until__lt=now),
            status=DeliveryStatus.PENDING,
            next_attempt_at__lte=now - timedelta(seconds=older_than),
            webhook__is_active=True,
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
