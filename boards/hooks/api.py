"""The REST API of the webhooks (/api/v1/orgs/{slug}/webhooks/, /api/v1/webhooks/{id}/...).
Thin: parse, fetch through boards.hooks.selectors, call boards.hooks.services, answer dicts."""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import AuthedRequest
from accounts.selectors import get_organization_for_user
from boards.hooks import selectors, services
from boards.models import Board, DeliveryStatus
from kanban.api import ERRORS, Pagination, paginated, validated
from kanban.exceptions import InvalidInput


class WebhookIn(serializers.Serializer):
    url = serializers.URLField(max_length=1000)
    board = serializers.IntegerField(
        required=False, allow_null=True, help_text="One board of the organisation; none: all."
    )
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)


class WebhookPatchIn(serializers.Serializer):
    url = serializers.URLField(max_length=1000, required=False)
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    is_active = serializers.BooleanField(
        required=False,
        help_text="false holds deliveries; true again replays from the last acknowledged seq.",
    )


class WebhookOut(serializers.Serializer):
    id = serializers.IntegerField()
    organization = serializers.IntegerField()
    board = serializers.IntegerField(allow_null=True)
    url = serializers.URLField()
    description = serializers.CharField()
    is_active = serializers.BooleanField()
    disabled_reason = serializers.CharField()
    failing_since = serializers.DateTimeField(allow_null=True)
    consecutive_failures = serializers.IntegerField()
    created_at = serializers.DateTimeField()


class WebhookWithSecretOut(WebhookOut):
    secret = serializers.CharField(
        help_text="whsec_ + base64: shown on creation and rotation only."
    )


class DeliveryOut(serializers.Serializer):
    id = serializers.IntegerField()
    webhook = serializers.IntegerField()
    msg_id = serializers.CharField(help_text="The webhook-id header, the same on every attempt.")
    board = serializers.IntegerField()
    seq = serializers.IntegerField()
    event_type = serializers.CharField()
    status = serializers.ChoiceField(choices=DeliveryStatus.choices)
    attempts = serializers.IntegerField()
    next_attempt_at = serializers.DateTimeField(allow_null=True)
    last_attempt_at = serializers.DateTimeField(allow_null=True)
    last_status_code = serializers.IntegerField(allow_null=True)
    last_error = serializers.CharField()
    last_duration_ms = serializers.IntegerField(allow_null=True)
    succeeded_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()


def _board_of(organization, board_id: int | None) -> Board | None:
    if board_id is None:
        return None
    board = Board.objects.filter(pk=board_id, organization=organization).first()
    if board is None:
        raise InvalidInput("No such board.", fields={"board": ["No such board."]})
    return board


class OrgWebhooksView(APIView):
    pagination_class = Pagination

    @extend_schema(
        responses={200: WebhookOut(many=True), **ERRORS},
        description="The organisation's webhooks (owners and admins).",
    )
    def get(self, request: AuthedRequest, slug: str) -> Response:
        organization, _ = get_organization_for_user(request.user, slug)
        return paginated(
            self,
            request,
            selectors.webhooks_of_organization(organization, user=request.user),
            lambda page: [selectors.webhook_dict(w) for w in page],
        )

    @extend_schema(
        request=WebhookIn,
        responses={201: WebhookWithSecretOut, **ERRORS},
        description="A webhook on one board, or on every board of the organisation. The answer "
        "carries its signing secret, which is not shown again.",
    )
    def post(self, request: AuthedRequest, slug: str) -> Response:
        organization, _ = get_organization_for_user(request.user, slug)
        data = validated(WebhookIn, request)
        services.ensure_hook_manager(request.user, organization.pk)
        webhook = services.create_webhook(
            organization,
            url=data["url"],
            board=_board_of(organization, data.get("board")),
            description=data.get("description", ""),
            actor=request.user,
        )
        return Response(
            selectors.webhook_dict(webhook, with_secret=True), status=status.HTTP_201_CREATED
        )


class WebhookDetailView(APIView):
    @extend_schema(responses={200: WebhookOut, **ERRORS})
    def get(self, request: AuthedRequest, webhook_id: int) -> Response:
        return Response(
            selectors.webhook_dict(selectors.get_webhook_for_user(request.user, webhook_id))
        )

    @extend_schema(request=WebhookPatchIn, responses={200: WebhookOut, **ERRORS})
    def patch(self, request: AuthedRequest, webhook_id: int) -> Response:
        webhook = selectors.get_webhook_for_user(request.user, webhook_id)
        data = validated(WebhookPatchIn, request, partial=True)
        webhook = services.update_webhook(webhook, **data, actor=request.user)
        return Response(selectors.webhook_dict(webhook))

    @extend_schema(responses={204: OpenApiResponse(description="Deleted."), **ERRORS})
    def delete(self, request: AuthedRequest, webhook_id: int) -> Response:
        webhook = selectors.get_webhook_for_user(request.user, webhook_id)
        services.delete_webhook(webhook, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookRotateView(APIView):
    @extend_schema(
        request=None,
        responses={200: WebhookWithSecretOut, **ERRORS},
        description="A new signing secret; the previous one also signs for 24 hours.",
    )
    def post(self, request: AuthedRequest, webhook_id: int) -> Response:
        webhook = selectors.get_webhook_for_user(request.user, webhook_id)
        webhook = services.rotate_webhook_secret(webhook, actor=request.user)
        return Response(selectors.webhook_dict(webhook, with_secret=True))


class WebhookDeliveriesView(APIView):
    pagination_class = Pagination

    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=DeliveryStatus.values, description="Only these.")
        ],
        responses={200: DeliveryOut(many=True), **ERRORS},
        description="The webhook's delivery log, newest first.",
    )
    def get(self, request: AuthedRequest, webhook_id: int) -> Response:
        webhook = selectors.get_webhook_for_user(request.user, webhook_id)
        rows = selectors.deliveries_of(webhook, status=request.query_params.get("status"))
        return paginated(
            self, request, rows, lambda page: [selectors.delivery_dict(d) for d in page]
        )


class DeliveryRedeliverView(APIView):
    @extend_schema(
        request=None,
        responses={202: DeliveryOut, **ERRORS},
        description="Send the delivery again (same webhook-id), retried as a new one would be.",
    )
    def post(self, request: AuthedRequest, webhook_id: int, delivery_id: int) -> Response:
        webhook = selectors.get_webhook_for_user(request.user, webhook_id)
        delivery = services.redeliver(
            selectors.get_delivery(webhook, delivery_id), actor=request.user
        )
        return Response(selectors.delivery_dict(delivery), status=status.HTTP_202_ACCEPTED)
