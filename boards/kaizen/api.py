"""The REST API of improvements (/api/v1/boards/{id}/improvements/...). Thin: parse, fetch
through boards.kaizen.selectors, call boards.kaizen.services, answer the selector's dicts."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import AuthedRequest
from boards.kaizen import selectors, services
from boards.models import ClassOfService, ImprovementMetric, ImprovementStatus
from boards.selectors.access import get_board_for_user
from kanban.api import CONFLICT, ERRORS, Pagination, paginated, shape_serializer, validated


class ImprovementIn(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    hypothesis = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    target_metric = serializers.ChoiceField(choices=ImprovementMetric.choices)
    review_on = serializers.DateField(help_text="When to review: at least a week after the start.")
    baseline_weeks = serializers.IntegerField(
        min_value=2, max_value=26, required=False, help_text="Weeks before the start (6)."
    )
    scope_class_of_service = serializers.ChoiceField(
        choices=ClassOfService.choices,
        required=False,
        allow_null=True,
        help_text="Count only this class of service's cards (their current class) in the "
        "baseline and the review; omitted or null: the whole board.",
    )


class StartIn(serializers.Serializer):
    started_on = serializers.DateField(
        required=False, help_text="The day of the change (today by default; not in the future)."
    )


ImprovementOut = shape_serializer(
    selectors.ImprovementData,
    name="ImprovementOut",
    target_metric=serializers.ChoiceField(choices=ImprovementMetric.choices),
    scope_class_of_service=serializers.ChoiceField(
        choices=ClassOfService.choices,
        allow_null=True,
        help_text="The class of service whose cards the figures count; null: the whole board.",
    ),
    status=serializers.ChoiceField(choices=ImprovementStatus.choices),
    started_at=serializers.DateTimeField(allow_null=True),
    review_on=serializers.DateField(),
    reviewed_at=serializers.DateTimeField(allow_null=True),
    created_by=serializers.CharField(allow_null=True, help_text="The author's username."),
    created_at=serializers.DateTimeField(),
    baseline=serializers.JSONField(
        allow_null=True,
        help_text="Captured at the start: `figures` (p50/p85 lead and cycle time, throughput "
        "per week, flow efficiency, blocked days over the baseline weeks) and `weeks` (each "
        "week's values, the XmR chart's points).",
    ),
    result=serializers.JSONField(
        allow_null=True,
        help_text="The after-period's `figures` and `weeks`, `checks` (per metric: centre "
        "line, limits, `signal`, `rules` fired: outside_limits, run_of_8; `verdict`), and the "
        "target metric's `signal` and `verdict`; `final` once the review date has come.",
    ),
)


class BoardImprovementsView(APIView):
    pagination_class = Pagination

    @extend_schema(
        responses={200: ImprovementOut(many=True), **ERRORS},
        description="The board's improvement experiments, newest first.",
    )
    def get(self, request: AuthedRequest, board_id: int) -> Response:
        board = get_board_for_user(request.user, board_id)
        return paginated(
            self,
            request,
            selectors.improvements_of(board),
            lambda page: [selectors.improvement_dict(i) for i in page],
        )

    @extend_schema(
        request=ImprovementIn,
        responses={201: ImprovementOut, **ERRORS},
        description="A new improvement (a draft: start it to capture its baseline).",
    )
    def post(self, request: AuthedRequest, board_id: int) -> Response:
        board = get_board_for_user(request.user, board_id)
        data = validated(ImprovementIn, request)
        improvement = services.create_improvement(board, **data, actor=request.user)
        return Response(selectors.improvement_dict(improvement), status=status.HTTP_201_CREATED)


class ImprovementDetailView(APIView):
    @extend_schema(responses={200: ImprovementOut, **ERRORS})
    def get(self, request: AuthedRequest, board_id: int, improvement_id: int) -> Response:
        improvement = selectors.get_improvement_for_user(request.user, board_id, improvement_id)
        return Response(selectors.improvement_dict(improvement))


class ImprovementStartView(APIView):
    @extend_schema(
        request=StartIn,
        responses={200: ImprovementOut, **ERRORS, **CONFLICT},
        description="Start it: the baseline (the board's metrics over the weeks before the "
        "start day) is captured now. 409 if it has started already.",
    )
    def post(self, request: AuthedRequest, board_id: int, improvement_id: int) -> Response:
        improvement = selectors.get_improvement_for_user(request.user, board_id, improvement_id)
        data = validated(StartIn, request)
        improvement = services.start_improvement(
            improvement, started_on=data.get("started_on"), actor=request.user
        )
        return Response(selectors.improvement_dict(improvement))


class ImprovementReviewView(APIView):
    @extend_schema(
        request=None,
        responses={200: ImprovementOut, **ERRORS, **CONFLICT},
        description="Compare the weeks since the start with the baseline, with an XmR check. "
        "Before the review date it is an interim look (status stays running); on or after it "
        "the result is final (reviewed). 409 before the start, or before a full week.",
    )
    def post(self, request: AuthedRequest, board_id: int, improvement_id: int) -> Response:
        improvement = selectors.get_improvement_for_user(request.user, board_id, improvement_id)
        improvement = services.review_improvement(improvement, actor=request.user)
        return Response(selectors.improvement_dict(improvement))
