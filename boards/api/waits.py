"""The REST API of waits between cards (boards/services/waits.py): a card waits on a card of
any board of its organisation."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import AuthedRequest
from boards import selectors, services
from boards.api import serializers as s
from boards.models import CardWait
from boards.selectors.waits import card_waits, readable_organizations, wait_dict
from kanban.api import CONFLICT, ERRORS, validated
from kanban.exceptions import NotFound


class CardWaitsView(APIView):
    @extend_schema(responses={200: s.CardWaitsOut, **ERRORS})
    def get(self, request: AuthedRequest, card_id: int) -> Response:
        card = selectors.get_card_for_user(request.user, card_id)
        return Response(card_waits(card, request.user))

    @extend_schema(
        request=s.WaitInput,
        responses={201: s.WaitOut, **ERRORS, **CONFLICT},
        description=(
            "Make the card wait on another card (`on`: its id), of any board of the "
            'organisation. The card is blocked ("Waiting on a card of <team>") until the '
            "wait is removed or the other card is finished (enters a done column), which ends "
            "it and unblocks the card. 400 `wait_cycle` when the other card already waits, "
            "directly or through others, on this one; 400 when it is this card, finished or "
            "archived; 404 for a card of another organisation; 409 when it already waits on "
            "it. Both boards' logs get `card.wait_added`."
        ),
    )
    def post(self, request: AuthedRequest, card_id: int) -> Response:
        card = selectors.get_card_for_user(request.user, card_id)
        data = validated(s.WaitInput, request)
        on = selectors.get_card_for_user(request.user, data["on"])
        wait = services.add_wait(card, on=on, actor=request.user)
        return Response(_one(wait.pk, request), status=status.HTTP_201_CREATED)


def _one(wait_id: int, request: AuthedRequest):
    from django.utils import timezone

    wait = CardWait.objects.select_related("card__board__team", "on_card__board__team").get(
        pk=wait_id
    )
    return wait_dict(wait, readable_organizations(request.user), timezone.now())


class CardWaitView(APIView):
    @extend_schema(
        responses={204: None, **ERRORS},
        description=(
            "Stop waiting: the wait ends (its interval stays in the metrics) and the card is "
            "unblocked if it was its last open wait. `card.wait_ended` on both boards."
        ),
    )
    def delete(self, request: AuthedRequest, card_id: int, wait_id: int) -> Response:
        card = selectors.get_card_for_user(request.user, card_id)
        wait = CardWait.objects.filter(pk=wait_id, card=card).select_related("card__board").first()
        if wait is None:
            raise NotFound("Wait not found.")
        services.end_wait(wait, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
