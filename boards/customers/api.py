"""The REST API of the customer view (/api/v1/orgs/{slug}/customers/...). Thin: the
organisation through accounts.selectors (404 outside it), the rows through
boards.customers.selectors, paginated."""

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import AuthedRequest
from accounts.selectors import get_organization_for_user
from boards.customers import selectors
from boards.models import ClassOfService, Stage
from kanban.api import ERRORS, Pagination, paginated, shape_serializer
from kanban.exceptions import NotFound

CustomerOut = shape_serializer(selectors.CustomerSummary, name="CustomerOut")
CustomerCardOut = shape_serializer(
    selectors.CustomerCard,
    name="CustomerCardOut",
    stage=serializers.ChoiceField(choices=Stage.choices),
    class_of_service=serializers.ChoiceField(choices=ClassOfService.choices),
    due_date=serializers.DateField(allow_null=True),
    finished_at=serializers.DateTimeField(allow_null=True),
)


class OrgCustomersView(APIView):
    pagination_class = Pagination

    @extend_schema(
        responses={200: CustomerOut(many=True), **ERRORS},
        description="Every customer named on the organisation's live cards (trimmed, without "
        "case), alphabetically, with their open, finished and blocked cards.",
    )
    def get(self, request: AuthedRequest, slug: str) -> Response:
        organization, _ = get_organization_for_user(request.user, slug)
        return paginated(
            self,
            request,
            selectors.customers_of(organization, request.user),
            lambda page: [selectors.summary_dict(row) for row in page],
        )


class CustomerCardsView(APIView):
    pagination_class = Pagination

    @extend_schema(
        responses={200: CustomerCardOut(many=True), **ERRORS},
        description="The customer's live cards on every board of the organisation, by board, "
        "stage (backlog to done) and place; lead time for finished ones, age, blocked and "
        "ageing flags for the others. 404 when no card of the organisation names it.",
    )
    def get(self, request: AuthedRequest, slug: str, name: str) -> Response:
        organization, _ = get_organization_for_user(request.user, slug)
        cards = selectors.cards_of_customer(organization, request.user, name)
        now = timezone.now()
        response = paginated(
            self, request, cards, lambda page: [selectors.card_dict(c, now=now) for c in page]
        )
        if response.data["count"] == 0:
            raise NotFound("No card of this organisation is for that customer.")
        return response
