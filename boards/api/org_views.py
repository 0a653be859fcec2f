"""The REST API of the organisation-wide views: the managers' overview, activity feeds, CSV
exports and the Trello import and its jobs. Thin, like every view: parse, fetch through a
selector, call a service or a read module (boards.flow.overview, boards.pages.activity,
boards.selectors.exports, boards.services.trello)."""

from django.conf import settings
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import AuthedRequest
from accounts.selectors import get_organization_for_user
from boards import selectors
from boards.api.serializers import ActorOut
from boards.api.views import ERRORS, paginated, validated
from boards.flow import overview
from boards.models import ImportStatus
from boards.pages import activity
from boards.selectors import exports
from boards.services import trello
from kanban.api import Pagination, shape_serializer
from kanban.parsers import JSONParser

# --- schema-only output serializers ----------------------------------------------------------


class OverviewRowOut(serializers.Serializer):
    board = serializers.IntegerField()
    board_name = serializers.CharField()
    team = serializers.IntegerField()
    team_name = serializers.CharField()
    wip = serializers.IntegerField(help_text="Live cards in wait and active columns.")
    wip_limit = serializers.IntegerField(
        allow_null=True,
        help_text="Sum of the limits of the wait and active columns that have one; null: none.",
    )
    columns_at_limit = serializers.IntegerField(help_text="Wait/active columns exactly full.")
    columns_over_limit = serializers.IntegerField(help_text="Wait/active columns past it.")
    blocked = serializers.IntegerField(help_text="Open blocks of live cards.")
    oldest_block_days = serializers.FloatField(allow_null=True)
    open_alerts = serializers.IntegerField()
    lead_p85 = serializers.FloatField(
        allow_null=True, help_text="Lead time p85 (days) over 90 days, from the snapshot."
    )
    lead_p85_previous = serializers.FloatField(
        allow_null=True, help_text="Lead time p85 of cards finished 56 to 28 days ago."
    )
    lead_p85_recent = serializers.FloatField(
        allow_null=True, help_text="Lead time p85 of cards finished in the last 28 days."
    )
    lead_trend = serializers.ChoiceField(
        choices=["up", "down", "flat"],
        allow_null=True,
        help_text="up: lead time grew by more than 10 % (worse); down: shrank; null: no data.",
    )
    throughput_4w = serializers.IntegerField(help_text="Cards finished in the last 28 days.")
    throughput_weeks = serializers.ListField(
        child=serializers.IntegerField(),
        help_text="Cards finished per ISO week, the last 8 weeks, oldest first (see `weeks`).",
    )
    flow_efficiency = serializers.FloatField(allow_null=True, help_text="From the snapshot.")
    computed_at = serializers.DateTimeField(allow_null=True, help_text="The snapshot's time.")


TeamWaitOut = shape_serializer(
    overview.TeamWaitData,
    name="TeamWaitOut",
    oldest_started_at=serializers.DateTimeField(help_text="When the oldest open wait began."),
)


class OverviewOut(serializers.Serializer):
    organization = serializers.CharField(help_text="The organisation's slug.")
    weeks = serializers.ListField(
        child=serializers.CharField(), help_text="The ISO weeks of `throughput_weeks`."
    )
    boards = OverviewRowOut(many=True)
    team_waits = TeamWaitOut(
        many=True,
        help_text="Open waits between teams (a card of `team` waiting on one of `on_team`), "
        "the longest-waiting pair first.",
    )


class ActivityItemOut(serializers.Serializer):
    seq = serializers.IntegerField(help_text="The event's seq in its board's log.")
    board = serializers.IntegerField()
    board_name = serializers.CharField()
    type = serializers.CharField(help_text="card.moved, card.created, alert.raised, ...")
    at = serializers.DateTimeField()
    actor = ActorOut(allow_null=True)
    text = serializers.CharField(help_text="What happened, as a sentence.")
    card = serializers.IntegerField(allow_null=True, help_text="The card concerned, if any.")


class ImportCountsOut(serializers.Serializer):
    columns = serializers.IntegerField()
    cards = serializers.IntegerField(help_text="Imported cards, archived ones included.")
    labels = serializers.IntegerField()
    comments = serializers.IntegerField()
    archived = serializers.IntegerField()
    skipped = serializers.IntegerField(help_text="Cards of closed lists, not imported.")


class ImportProgressOut(serializers.Serializer):
    done = serializers.IntegerField(help_text="Cards imported so far.")
    total = serializers.IntegerField(help_text="Cards to import (those on open lists).")


class ImportJobOut(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.CharField(help_text="This job in the API: GET it for its progress.")
    page = serializers.CharField(help_text="The job's progress page, for a person.")
    organization = serializers.CharField(help_text="The organisation's slug.")
    team = serializers.IntegerField()
    team_name = serializers.CharField()
    name = serializers.CharField(help_text="The new board's name.")
    status = serializers.ChoiceField(
        choices=ImportStatus.choices,
        help_text="queued, then running, then done or failed (nothing kept).",
    )
    progress = ImportProgressOut()
    board = serializers.IntegerField(
        allow_null=True, help_text="The new board's id: set while running, kept when done."
    )
    board_url = serializers.CharField(allow_null=True, help_text="The new board's page.")
    counts = ImportCountsOut(allow_null=True, help_text="What landed, once done.")
    error = serializers.CharField(
        allow_null=True, help_text="Why it failed, for a person (where it stopped and why)."
    )
    created_by = ActorOut(allow_null=True)
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)


class TrelloImportInput(serializers.Serializer):
    team = serializers.IntegerField(help_text="The team that will own the new board.")
    name = serializers.CharField(
        max_length=120,
        required=False,
        allow_blank=True,
        help_text="The board's name; default: the Trello board's.",
    )
    board = serializers.DictField(help_text="The Trello board's JSON export, as exported.")


# --- overview and activity -------------------------------------------------------------------


class OrgOverviewView(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter(
                "sort",
                str,
                description=(
                    "A key of the rows (e.g. `blocked`, `lead_p85`, `team_name`), `-` first for "
                    "descending. Empty figures come last. Default: team, then board name."
                ),
            )
        ],
        responses={200: OverviewOut, **ERRORS},
        description=(
            "One row per board of the organisation: WIP against limits, blocked cards, open "
            "alerts, lead time p85 and its trend, throughput, flow efficiency. Not paginated "
            "(one row per board); its cost does not grow with the number of boards, as the "
            "90-day figures come from the boards' stored metrics snapshots."
        ),
    )
    def get(self, request: AuthedRequest, slug: str) -> Response:
        organization, _ = get_organization_for_user(request.user, slug)
        sort = request.query_params.get("sort")
        if sort:
            overview.sort_overview([], sort)  # an unknown key answers 400 before any work
        now = timezone.now()
        rows = overview.org_overview(organization, now=now)
        if sort:
            rows = overview.sort_overview(rows, sort)
        return Response(
            {
                "organization": organization.slug,
                "weeks": overview.overview_weeks(now),
                "boards": rows,
                "team_waits": overview.team_waits(organization.pk, now),
            }
        )


class OrgActivityView(APIView):
    pagination_class = Pagination

    @extend_schema(
        responses={200: ActivityItemOut(many=True), **ERRORS},
        description="What happened on every board of the organisation, newest first.",
    )
    def get(self, request: AuthedRequest, slug: str) -> Response:
        organization, _ = get_organization_for_user(request.user, slug)
        return paginated(
            self, request, activity.org_activity(organization), activity.activity_items
        )


class BoardActivityView(APIView):
    pagination_class = Pagination

    @extend_schema(
        responses={200: ActivityItemOut(many=True), **ERRORS},
        description="What happened on the board, newest first.",
    )
    def get(self, request: AuthedRequest, board_id: int) -> Response:
        board = selectors.get_board_for_user(request.user, board_id)
        return paginated(self, request, activity.board_activity(board), activity.activity_items)


# --- CSV exports -----------------------------------------------------------------------------


class JsonErrorsNegotiation(BaseContentNegotiation):
    """The CSV views answer a streamed CSV, or a JSON error, whatever the Accept header says
    (a browser or spreadsheet asking for text/csv must not get 406)."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


CSV_RESPONSE = {
    (200, "text/csv"): OpenApiResponse(
        OpenApiTypes.STR,
        description=(
            "Streamed UTF-8 CSV with a byte order mark, one header row; an attachment. Text "
            "cells that a spreadsheet would read as a formula start with an apostrophe."
        ),
    )
}


class BoardCardsCsvView(APIView):
    content_negotiation_class = JsonErrorsNegotiation

    @extend_schema(
        operation_id="v1_boards_export_cards_csv",
        responses={**CSV_RESPONSE, **ERRORS},
        description=(
            "Every card of the board (archived ones too), in creation order: "
            + ", ".join(exports.CARD_COLUMNS)
            + ". Assignees (usernames) and labels are joined by `;`; times are ISO 8601 UTC; "
            "lead and cycle times are in days."
        ),
    )
    def get(self, request: AuthedRequest, board_id: int):
        board = selectors.get_board_for_user(request.user, board_id)
        return exports.cards_csv_response(board)


class BoardHistoryCsvView(APIView):
    content_negotiation_class = JsonErrorsNegotiation

    @extend_schema(
        operation_id="v1_boards_export_history_csv",
        responses={**CSV_RESPONSE, **ERRORS},
        description=(
            "The board's move history, oldest first (a card's creation has no from column): "
            + ", ".join(exports.HISTORY_COLUMNS)
            + "."
        ),
    )
    def get(self, request: AuthedRequest, board_id: int):
        board = selectors.get_board_for_user(request.user, board_id)
        return exports.history_csv_response(board)


# --- Trello import ---------------------------------------------------------------------------


class ImportJSONParser(JSONParser):
    """The API's JSON parser with the import's own body limit (IMPORT_MAX_BYTES) instead of
    the general one: the same depth and string checks over the whole export."""

    def max_bytes(self) -> int:
        return settings.IMPORT_MAX_BYTES


class TrelloImportView(APIView):
    parser_classes = [ImportJSONParser]

    @extend_schema(
        request=TrelloImportInput,
        responses={
            202: ImportJobOut,
            **ERRORS,
            413: OpenApiResponse(description="Body over IMPORT_MAX_BYTES (default 20 MiB)."),
        },
        description=(
            "Start importing a Trello board's JSON export into a new board of one of the "
            "organisation's teams: open lists become columns (stage guessed from the name: "
            "done, review/QA, doing, backlog...), then labels, cards in list order (closed "
            "ones archived), and comments. Trello members are not mapped to users: their "
            "names are noted on the cards. The file is checked at once: a malformed export, "
            "or one of more than IMPORT_MAX_CARDS cards (default 10,000), answers 400 naming "
            "the faulty parts, and nothing is created. Then a worker imports it: the answer "
            "is 202 with the job (`Location`: GET /api/v1/imports/{id}/ for its progress), "
            "which ends `done` with the new board, or `failed` with nothing kept and an "
            "`error` saying why."
        ),
    )
    def post(self, request: AuthedRequest, slug: str) -> Response:
        organization, _ = get_organization_for_user(request.user, slug)
        data = validated(TrelloImportInput, request)
        team = selectors.resolve_team(organization.pk, data["team"])
        job = trello.start_trello_import(
            team=team, data=data["board"], name=data.get("name"), actor=request.user
        )
        # Read again: where tasks run in-process (the embedded default) it has run already.
        body = selectors.import_job_dict(selectors.get_import_job_for_user(request.user, job.pk))
        return Response(
            body,
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": request.build_absolute_uri(body["url"])},
        )


class ImportJobView(APIView):
    @extend_schema(
        responses={200: ImportJobOut, **ERRORS},
        description="An import job: its status and progress, then the new board or the error.",
    )
    def get(self, request: AuthedRequest, job_id: int) -> Response:
        return Response(
            selectors.import_job_dict(selectors.get_import_job_for_user(request.user, job_id))
        )


class OrgImportsView(APIView):
    pagination_class = Pagination

    @extend_schema(
        responses={200: ImportJobOut(many=True), **ERRORS},
        description="The organisation's imports, newest first.",
    )
    def get(self, request: AuthedRequest, slug: str) -> Response:
        organization, _ = get_organization_for_user(request.user, slug)
        return paginated(
            self,
            request,
            selectors.import_jobs_of_organization(organization),
            lambda page: [selectors.import_job_dict(job) for job in page],
        )
