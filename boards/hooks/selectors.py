"""Reads of the webhooks, scoped to the organisations where the user is an owner or admin:
a hook of another organisation reads as missing (404), as everything else does."""

from typing import Any

from django.db.models import QuerySet

from accounts.models import Organization, User
from boards.hooks.services import ensure_hook_manager
from boards.models import DeliveryStatus, Webhook, WebhookCursor, WebhookDelivery
from kanban.exceptions import InvalidInput, NotFound


def webhooks_of_organization(organization: Organization, *, user: User) -> QuerySet[Webhook]:
    ensure_hook_manager(user, organization.pk)
    return Webhook.objects.filter(organization=organization).select_related("board").order_by("id")


def get_webhook_for_user(user: User, webhook_id: int) -> Webhook:
    webhook = Webhook.objects.select_related("board", "organization").filter(pk=webhook_id).first()
    if webhook is None:
        raise NotFound("Webhook not found.")
    try:
        ensure_hook_manager(user, webhook.organization_id)
    except NotFound:
        raise NotFound("Webhook not found.") from None
    return webhook


def deliveries_of(webhook: Webhook, *, status: str | None = None) -> QuerySet[WebhookDelivery]:
    """The hook's delivery log, newest first (the body deferred: it is for the receiver)."""
    rows = WebhookDelivery.objects.filter(webhook=webhook).defer("body").order_by("-id")
    if status:
        if status not in DeliveryStatus.values:
            raise InvalidInput(
                "No such status.",
                fields={"status": [f"One of {', '.join(DeliveryStatus.values)}."]},
            )
        rows = rows.filter(status=status)
    return rows


def get_delivery(webhook: Webhook, delivery_id: int) -> WebhookDelivery:
    delivery = WebhookDelivery.objects.filter(webhook=webhook, pk=delivery_id).first()
    if delivery is None:
        raise NotFound("Delivery not found.")
    delivery.webhook = webhook
    return delivery


def cursors_of(webhook: Webhook) -> list[dict[str, Any]]:
    rows = WebhookCursor.objects.filter(webhook=webhook).order_by("board_id")
    return [dict(row) for row in rows.values("board_id", "seq", "acked_seq")]


def webhook_dict(webhook: Webhook, *, with_secret: bool = False) -> dict:
    out = {
        "id": webhook.pk,
        "organization": webhook.organization_id,
        "board": webhook.board_id,
        "url": webhook.url,
        "description": webhook.description,
        "is_active": webhook.is_active,
        "disabled_reason": webhook.disabled_reason,
        "failing_since": webhook.failing_since,
        "consecutive_failures": webhook.consecutive_failures,
        "created_at": webhook.created_at,
    }
    if with_secret:  # on creation and rotation only: afterwards the secret is not shown again
        out["secret"] = webhook.secret
    return out


def delivery_dict(delivery: WebhookDelivery) -> dict:
    return {
        "id": delivery.pk,
        "webhook": delivery.webhook_id,
        "msg_id": delivery.msg_id,
        "board": delivery.board_id,
        "seq": delivery.seq,
        "event_type": delivery.event_type,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "next_attempt_at": delivery.next_attempt_at,
        "last_attempt_at": delivery.last_attempt_at,
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error,
        "last_duration_ms": delivery.last_duration_ms,
        "succeeded_at": delivery.succeeded_at,
        "created_at": delivery.created_at,
    }
