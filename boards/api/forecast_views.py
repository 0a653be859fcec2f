"""The forecast endpoints: Monte Carlo forecasts of a board's throughput and their backtest
(boards/flow/forecast.py). Read only: they parse, check access, compute, answer."""

from datetime import UTC, date
from typing import Any

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import AuthedRequest
from boards import selectors
from boards.flow import forecast
from boards.models import ClassOfService
from kanban.api import ERRORS


def _today() -> date:
    # Days are UTC days, as the metrics' windows are.
    return timezone.now().astimezone(UTC).date()


class _FilterInput(serializers.Serializer):
    class_of_service = serializers.ChoiceField(choices=ClassOfService.choices, required=False)
    customer = serializers.CharField(required=False, max_length=120, allow_blank=True)
    seed = serializers.IntegerField(required=False, min_value=0, max_value=2**63 - 1)

    def get_fields(self):
        # `from` is a Python keyword: declared under its query-string name.
        fields = super().get_fields()
        fields["from"] = serializers.DateField(required=False)
        return fields

    def validate_from(self, value: date) -> date:
        today = self.context["today"]
        if value >= today:
            raise serializers.ValidationError("The history must start before today.")
        if (today - value).days > forecast.MAX_HISTORY_DAYS:
            raise serializers.ValidationError("The history spans at most two years.")
        return value

    def filters(self) -> forecast.Filters:
        data = self.validated_data
        return forecast.Filters(
            class_of_service=data.get("class_of_service") or None,
            customer=data.get("customer") or None,
        )


class ForecastInput(_FilterInput):
    how_many_by = serializers.DateField(required=False)
    when = serializers.IntegerField(required=False, min_value=1, max_value=forecast.MAX_CARDS)

    def validate_how_many_by(self, value: date) -> date:
        today = self.context["today"]
        if value < today:
            raise serializers.ValidationError("Pick today or a later day.")
        if (value - today).days >= forecast.MAX_HORIZON_DAYS:
            raise serializers.ValidationError(
                f"Forecast at most {forecast.MAX_HORIZON_DAYS} days ahead."
            )
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("how_many_by" in attrs) == ("when" in attrs):
            raise serializers.ValidationError(
                {
                    "how_many_by": ["Ask how_many_by=YYYY-MM-DD or when=N, one of the two."],
                    "when": ["Ask how_many_by=YYYY-MM-DD or when=N, one of the two."],
                }
            )
        return attrs


class BacktestInput(_FilterInput):
    horizon = serializers.IntegerField(required=False, min_value=1, max_value=90)


def _parse(serializer_class: type[_FilterInput], request: AuthedRequest) -> _FilterInput:
    serializer = serializer_class(data=request.query_params, context={"today": _today()})
    serializer.is_valid(raise_exception=True)
    return serializer


FILTER_PARAMETERS = [
    OpenApiParameter(
        "class_of_service",
        str,
        enum=[c.value for c in ClassOfService],
        description="Only cards of this class of service.",
    ),
    OpenApiParameter("customer", str, description="Only cards for this customer (exact)."),
    OpenApiParameter(
        "from",
        OpenApiTypes.DATE,
        description="The first day of the history sampled (before today, at most two years "
        "ago). Default: the later of 90 days ago and the day the first card finished.",
    ),
    OpenApiParameter(
        "seed", int, description="Seed the random draws: the same answer for the same data."
    ),
]


class BoardForecastView(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter(
                "how_many_by",
                OpenApiTypes.DATE,
                description="How many cards will be finished from the start of today to this "
                f"day (inclusive, at most {forecast.MAX_HORIZON_DAYS} days ahead)?",
            ),
            OpenApiParameter(
                "when",
                int,
                description=f"When will this many cards (1 to {forecast.MAX_CARDS}) be "
                "finished? Give how_many_by or when, not both.",
            ),
            *FILTER_PARAMETERS,
        ],
        responses={200: OpenApiTypes.OBJECT, **ERRORS},
        description=(
            f"A Monte Carlo forecast: {forecast.TRIALS:,} trials resampling the board's daily "
            "throughput (zero days included) over the history. `how_many_by.levels`: "
            "`at_least` cards with 50/70/85/95 % confidence; `when.levels`: the `date` by "
            "which the cards are done with that confidence (null: not within ten years). "
            "`history` shows what was sampled: the days, the zero days, a histogram of cards "
            "per day. With no card finished in the history `can_forecast` is false and "
            "`message` says why."
        ),
    )
    def get(self, request: AuthedRequest, board_id: int) -> Response:
        board = selectors.get_board_for_user(request.user, board_id)
        query = _parse(ForecastInput, request)
        data = query.validated_data
        return Response(
            forecast.forecast_board(
                board,
                today=query.context["today"],
                filters=query.filters(),
                start=data.get("from"),
                how_many_by=data.get("how_many_by"),
                cards=data.get("when"),
                seed=data.get("seed"),
            )
        )


class BoardBacktestView(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter(
                "horizon",
                int,
                description="Days each backtested forecast looks ahead (1 to 90, default "
                f"{forecast.DEFAULT_BACKTEST_HORIZON}).",
            ),
            *FILTER_PARAMETERS,
        ],
        responses={200: OpenApiTypes.OBJECT, **ERRORS},
        description=(
            "How good the forecasts would have been: for each past day of the history with "
            f"{forecast.MIN_BACKTEST_HISTORY} days before it and `horizon` days after it, the "
            "forecast 'how many in the next horizon days', made from the days before it "
            f"only ({forecast.BACKTEST_TRIALS:,} trials), against what those days finished. "
            "`levels`: how often the 50/70/85/95 % forecasts held; `points`: each backtest."
        ),
    )
    def get(self, request: AuthedRequest, board_id: int) -> Response:
        board = selectors.get_board_for_user(request.user, board_id)
        query = _parse(BacktestInput, request)
        data = query.validated_data
        return Response(
            forecast.backtest_board(
                board,
                today=query.context["today"],
                filters=query.filters(),
                start=data.get("from"),
                horizon=data.get("horizon", forecast.DEFAULT_BACKTEST_HORIZON),
                seed=data.get("seed"),
            )
        )
