"""Forecasts and service levels: Monte Carlo forecasts of a board's throughput and their
backtest (boards/flow/forecast.py); service level expectations and WIP limits per class of
service, the cards at risk, blocked time by cause (boards/flow/service_levels.py)."""

from datetime import UTC, date, timedelta
from typing import Any

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import AuthedRequest
from boards import selectors, services
from boards.flow import forecast, metrics, service_levels
from boards.models import Board, ClassOfService, WipPolicy
from boards.services.service_levels import MAX_SLE_DAYS
from kanban.api import ERRORS, validated
from kanban.exceptions import NotFound


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
        if "how_many_by" in attrs and "when" in attrs:
            raise serializers.ValidationError(
                {
                    "how_many_by": ["Ask how_many_by=YYYY-MM-DD or when=N, not both."],
                    "when": ["Ask how_many_by=YYYY-MM-DD or when=N, not both."],
                }
            )
        if "how_many_by" not in attrs and "when" not in attrs:
            # No question: the one a stand-up asks, how many in the next two weeks.
            attrs["how_many_by"] = self.context["today"] + timedelta(
                days=forecast.DEFAULT_HORIZON_DAYS - 1
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
                "finished? Give how_many_by or when, not both; neither asks how many in the "
                f"next {forecast.DEFAULT_HORIZON_DAYS} days.",
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


# --- service levels per class of service -------------------------------------------------------


class ServiceLevelInput(serializers.Serializer):
    sle_days = serializers.FloatField(
        required=False, allow_null=True, min_value=0.01, max_value=MAX_SLE_DAYS
    )
    wip_limit = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=32767
    )
    wip_policy = serializers.ChoiceField(choices=WipPolicy.choices, required=False)


def _service_levels_answer(board: Board) -> dict[str, Any]:
    now = timezone.now()
    levels = service_levels.board_service_levels(board, now)
    return {
        "board": board.pk,
        "at_risk_fraction": service_levels.AT_RISK_FRACTION,
        "levels": levels,
        "cards": service_levels.cards_at_risk(board, now, service_levels.sle_by_class(levels)),
    }


SERVICE_LEVELS_DESCRIPTION = (
    "Per class of service: the service level expectation in force (`sle_days`: 85 % of the "
    "class's work finishes within it, from its start), whether it was `set` or `derived` (the "
    "p85 cycle time of the class's cards finished in the last 90 days), the class's WIP now "
    "and its limit. `cards`: the started cards in progress past `at_risk_fraction` of their "
    "SLE (`at_risk`) or past it (`breached`), the most overdue first."
)


class BoardServiceLevelsView(APIView):
    @extend_schema(
        responses={200: OpenApiTypes.OBJECT, **ERRORS}, description=SERVICE_LEVELS_DESCRIPTION
    )
    def get(self, request: AuthedRequest, board_id: int) -> Response:
        board = selectors.get_board_for_user(request.user, board_id)
        return Response(_service_levels_answer(board))


class BoardServiceLevelView(APIView):
    @extend_schema(
        request=ServiceLevelInput,
        responses={200: OpenApiTypes.OBJECT, **ERRORS},
        description=(
            "Set a class of service's SLE in days (null: derive it), WIP limit (null: none) "
            "and WIP policy (soft: an alert; hard: moves and new cards that would pass it are "
            "refused with 409 `wip_limit_exceeded`, unless an owner or admin gives an "
            "`override_reason`). Members of the board's team, owners and admins. Answers as "
            "the GET of the board's service levels."
        ),
    )
    def patch(self, request: AuthedRequest, board_id: int, class_of_service: str) -> Response:
        board = selectors.get_board_for_user(request.user, board_id)
        if class_of_service not in ClassOfService.values:
            raise NotFound("No such class of service.")
        data = validated(ServiceLevelInput, request)
        services.set_service_level(
            board, class_of_service=class_of_service, actor=request.user, **data
        )
        return Response(_service_levels_answer(board))


# --- blockers by cause -------------------------------------------------------------------------


class BlockerInput(serializers.Serializer):
    to = serializers.DateField(required=False)

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = serializers.DateField(required=False)
        return fields

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("from" in attrs) != ("to" in attrs):
            raise serializers.ValidationError("Give both from and to, or neither.")
        return attrs


class BoardBlockersView(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("from", OpenApiTypes.DATE, description="Window start (inclusive)."),
            OpenApiParameter("to", OpenApiTypes.DATE, description="Window end (inclusive)."),
        ],
        responses={200: OpenApiTypes.OBJECT, **ERRORS},
        description=(
            "Blocked time grouped by cause: the reasons of the blocks that overlap the window "
            "(default the last 90 days), normalised (case, spacing, surrounding punctuation), "
            "with how many blocks and cards, the blocked days within the window (an open "
            "block up to now) and how many are still open; the most blocked time first."
        ),
    )
    def get(self, request: AuthedRequest, board_id: int) -> Response:
        board = selectors.get_board_for_user(request.user, board_id)
        serializer = BlockerInput(data=request.query_params)
        serializer.is_valid(raise_exception=True)
        query = serializer.validated_data
        now = timezone.now()
        if "from" in query:
            window = metrics.chosen_window(query["from"], query["to"])
        else:
            window = metrics.default_window(now)
        return Response(
            {
                "board": board.pk,
                "window": {"from": window.start.isoformat(), "to": window.end.isoformat()},
                "causes": service_levels.blocker_causes(board, window, now),
            }
        )
