"""The organisation's webhooks page (/o/{slug}/webhooks/), for its owners and admins: the
hooks, with their state; one hook's recent deliveries with their status; buttons (plain
forms, no script) to redeliver a delivery and to enable or disable a hook, through the same
services as the API."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from accounts.authentication import AuthedHttpRequest
from boards.hooks import selectors, services
from boards.pages.lookups import org_or_404
from kanban.exceptions import DomainError, Forbidden, NotFound

RECENT_DELIVERIES = 50


def _hook(request: AuthedHttpRequest, organization, webhook_id: int):
    try:
        webhook = selectors.get_webhook_for_user(request.user, webhook_id)
    except NotFound as exc:
        raise Http404("Webhook not found") from exc
    except Forbidden as exc:
        raise PermissionDenied(exc.detail) from exc
    if webhook.organization_id != organization.pk:
        raise Http404("Webhook not found")
    return webhook


@login_required
@require_GET
def org_webhooks_page(request: AuthedHttpRequest, slug: str) -> HttpResponse:
    organization, access = org_or_404(request, slug)
    context = {"organization": organization, "role": access.role, "tab": "webhooks"}
    if not access.is_manager:
        return render(
            request, "boards/org_webhooks.html", {**context, "forbidden": True}, status=403
        )
    hooks = list(selectors.webhooks_of_organization(organization, user=request.user))
    chosen = request.GET.get("hook", "")
    selected = next((h for h in hooks if str(h.pk) == chosen), hooks[0] if hooks else None)
    deliveries = list(selectors.deliveries_of(selected)[:RECENT_DELIVERIES]) if selected else []
    return render(
        request,
        "boards/org_webhooks.html",
        {**context, "hooks": hooks, "selected": selected, "deliveries": deliveries},
    )


def _back(organization, webhook) -> HttpResponse:
    return redirect(f"{reverse('org-webhooks', args=[organization.slug])}?hook={webhook.pk}")


@login_required
@require_POST
def redeliver_action(request: AuthedHttpRequest, slug: str, webhook_id: int, delivery_id: int):
    organization, _ = org_or_404(request, slug)
    webhook = _hook(request, organization, webhook_id)
    try:
        delivery = selectors.get_delivery(webhook, delivery_id)
    except NotFound as exc:
        raise Http404("Delivery not found") from exc
    try:
        services.redeliver(delivery, actor=request.user)
        messages.success(request, f"Delivery {delivery.msg_id} queued again.")
    except DomainError as exc:
        messages.error(request, exc.detail)
    return _back(organization, webhook)


@login_required
@require_POST
def toggle_action(request: AuthedHttpRequest, slug: str, webhook_id: int):
    organization, _ = org_or_404(request, slug)
    webhook = _hook(request, organization, webhook_id)
    enable = request.POST.get("is_active") == "1"
    try:
        services.update_webhook(webhook, is_active=enable, actor=request.user)
        messages.success(
            request, "Enabled: what it missed is being replayed." if enable else "Disabled."
        )
    except DomainError as exc:
        messages.error(request, exc.detail)
    return _back(organization, webhook)
