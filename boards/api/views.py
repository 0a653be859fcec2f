"""The REST API for boards and cards: parse and validate, fetch through a selector, call a
service, answer with the selector's dicts. No view writes a model."""

from typing import Any

from django.db import transaction
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ParseError
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import AuthedRequest
from accounts.models import Team
from boards import selectors, services
from boards.api import serializers as s
from boards.flow import metrics
from boards.flow.alerts import alert_dict
from boards.flow.waits import dependency_waits
from boards.live.events import actor_dict, event_payload, events_since
from boards.selectors import access_of
from kanban.api import CONFLICT, ERRORS, Pagination, paginated, validated
from kanban.exceptions import InvalidInput, StaleVersion


def board_list_dict(board) -> dict[str, Any]:
    data = selectors.board_summary(board)
    data.update(cards=board.card_count, can_write=access_of(board).can_write)
    return data


def board_detail(board) -> dict[str, Any]:
    data = selectors.board_snapshot(board)
    data["can_write"] = access_of(board).can_write
    return data


def cards_in_order(ids: list[int]) -> list[selectors.CardData]:
    by_id = {card["id"]: card for card in selectors.cards_as_dicts(ids)}
    return [by_id[i] for i in ids if i in by_id]


class BoardListView(APIView):
    pagination_class = Pagination

    @extend_schema(
        parameters=[
            OpenApiParameter("org", str, description="Organisation slug."),
            OpenApiParameter("team", int, description="Team id."),
        ],
        responses={200: s.BoardListOut(many=True), **ERRORS},
    )
    def get(self, request: AuthedRequest) -> Response:
        team = request.query_params.get("team")
        # isdigit() alone lets through digits int() refuses, such as "²".
        if team is not None and not (team.isascii() and team.isdigit()):
            raise InvalidInput("team must be a team id.", fields={"team": ["An integer."]})
        boards = selectors.boards_for_user(
            request.user,
            org_slug=request.query_params.get("org"),
            team_id=int(team) if team else None,
        )
        return paginated(self, request, boards, lambda page: [board_list_dict(b) for b in page])

    @extend_schema(request=s.BoardInput, responses={201: s.BoardOut, **ERRORS})
    def post(self, request: AuthedRequest) -> Response:
        data = validated(s.BoardInput, request)
        team = Team.objects.filter(
            pk=data["team"], organization__memberships__user=request.user
        ).first()
        if team is None:
            raise InvalidInput(
                f"There is no team {data['team']} in your organisations.",
                fields={"team": ["Unknown team."]},
            )
        board = services.create_board(
            team=team,
            name=data["name"],
            description=data["description"],
            columns=data.get("columns"),
            swimlanes=data.get("swimlanes") or ("Default",),
            actor=request.user,
        )
        board = selectors.get_board_for_user(request.user, board.pk)
        return Response(board_detail(board), status=status.HTTP_201_CREATED)


class BoardDetailView(APIView):
    @extend_schema(responses={200: s.BoardOut, **ERRORS})
    def get(self, request: AuthedRequest, board_id: int) -> HttpResponse:
        board = selectors.get_board_for_user(request.user, board_id)
        # The board's JSON is shared by everyone who reads it (selectors.board_snapshot_json);
        # only whether this reader may change it is theirs, and it goes last, as in
        # board_detail.
        body = selectors.board_snapshot_json(board)
        can_write = b"true" if access_of(board).can_write else b"false"
        return HttpResponse(
            body[:-1] + b',"can_write":' + can_write + b"}", content_type="application/json"
        )

    @extend_schema(request=s.BoardUpdateInput, responses={200: s.BoardOut, **ERRORS})
    def patch(self, request: AuthedRequest, board_id: int) -> Response:
        board = selectors.get_board_for_user(request.user, board_id)
        data = validated(s.BoardUpdateInput, request)
        if "team" in data:
            data["team"] = selectors.resolve_team(board.organization_id, data["team"])
        services.update_board(board, **data, actor=request.user)
        return Response(board_detail(selectors.get_board_for_user(request.user, board_id)))

    @extend_schema(responses={204: None, **ERRORS})
    def delete(self, request: AuthedRequest, board_id: int) -> Response:
        board = selectors.get_board_for_user(request.user, board_id)
        services.delete_board(board, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ColumnCreateView(APIView):
    @extend_schema(request=s.ColumnInput, responses={201: s.ColumnOut, **ERRORS})
    def post(self, request: AuthedRequest, board_id: int) -> Response:
        board = selectors.get_board_for_user(request.user, board_id)
        data = validated(s.ColumnInput, request)
        column = services.create_column(board, **data, actor=request.user)
        return Response(selectors.column_as_dict(column), status=status.HTTP_201_CREATED)


class ColumnDetailView(APIView):
    @extend_schema(responses={200: s.ColumnOut, **ERRORS})
    def get(self, request: AuthedRequest, column_id: int) -> Response:
        column = selectors.get_column_for_user(request.user, column_id)
        return Response(selectors.column_as_dict(column))

    @extend_schema(request=s.ColumnUpdateInput, responses={200: s.ColumnOut, **ERRORS})
    def patch(self, request: AuthedRequest, column_id: int) -> Response:
        column = selectors.get_column_for_user(request.user, column_id)
        data = validated(s.ColumnUpdateInput, request)
        column = services.update_column(column, **data, actor=request.user)
        return Response(selectors.column_as_dict(column))

    @extend_schema(responses={204: None, **ERRORS, **CONFLICT})
    def delete(self, request: AuthedRequest, column_id: int) -> Response:
        column = selectors.get_column_for_user(request.user, column_id)
        services.delete_column(column, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SwimlaneCreateView(APIView):
    @extend_schema(request=s.SwimlaneInput, responses={201: s.SwimlaneOut, **ERRORS})
    def post(self, request: AuthedRequest, board_id: int) -> Response:
        board = selectors.get_board_for_user(request.user, board_id)
        data = validated(s.SwimlaneInput, request)
        lane = services.create_swimlane(board, **data, actor=request.user)
        return Response(selectors.swimlane_dict(lane), status=status.HTTP_201_CREATED)


class SwimlaneDetailView(APIView):
    @extend_schema(responses={200: s.SwimlaneOut, **ERRORS})
    def get(self, request: AuthedRequest, swimlane_id: int) -> Response:
        lane = selectors.get_swimlane_for_user(request.user, swimlane_id)
        return Response(selectors.swimlane_dict(lane))

    @extend_schema(request=s.SwimlaneUpdateInput, responses={200: s.SwimlaneOut, **ERRORS})
    def patch(self, request: AuthedRequest, swimlane_id: int) -> Response:
        lane = selectors.get_swimlane_for_user(request.user, swimlane_id)
        data = validated(s.SwimlaneUpdateInput, request)
        lane = services.update_swimlane(lane, **data, actor=request.user)
        return Response(selectors.swimlane_dict(lane))

    @extend_schema(responses={204: None, **ERRORS, **CONFLICT})
    def delete(self, request: AuthedRequest, swimlane_id: int) -> Response:
        lane = selectors.get_swimlane_for_user(request.user, swimlane_id)
        services.delete_swimlane(lane, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class LabelListView(APIView):
    pagination_class = Pagination

    @extend_schema(responses={200: s.LabelOut(many=True), **ERRORS})
    def get(self, request: AuthedRequest, board_id: int) -> Response:
        board = selectors.get_board_for_user(request.user, board_id)
        return paginated(
            self,
            request,
            board.labels.order_by("name"),
            lambda page: [selectors.label_dict(label) for label in page],
        )

    @extend_schema(request=s.LabelInput, responses={201: s.LabelOut, **ERRORS, **CONFLICT})
    def post(self, request: AuthedRequest, board_id: int) -> Response:
        board = selectors.get_board_for_user(request.user, board_id)
        data = validated(s.LabelInput, request)
        label = services.create_label(board, **data, actor=request.user)
        return Response(selectors.label_dict(label), status=status.HTTP_201_CREATED)


class CardListView(APIView):
    pagination_class = Pagination

    @extend_schema(
        parameters=[
            OpenApiParameter("org", str, description="Only this organisation's cards (slug)."),
            OpenApiParameter("board", int),
            OpenApiParameter("column", int),
            OpenApiParameter("assignee", int),
            OpenApiParameter("label", int),
            OpenApiParameter("blocked", bool),
            OpenApiParameter(
                "archived",
                bool,
                description="true: archived cards only (the latest archived first); default "
                "false: live cards only.",
            ),
            OpenApiParameter(
                "q",
                str,
                description=(
                    "Text in title, description or comments (Postgres full-text search, "
                    'websearch syntax: words, "a phrase", or, -word); best matches first.'
                ),
            ),
        ],
        responses={200: s.CardOut(many=True), **ERRORS},
    )
    def get(self, request: AuthedRequest) -> Response:
        filters = validated_query(CardFilterInput, request)
        cards = selectors.search_cards(request.user, **filters).values_list("id", flat=True)
        return paginated(self, request, cards, lambda ids: cards_in_order(list(ids)))


class CardFilterInput(serializers.Serializer):
    org = serializers.SlugField(required=False, max_length=60)
    board = serializers.IntegerField(required=False)
    column = serializers.IntegerField(required=False)
    assignee = serializers.IntegerField(required=False)
    # a field named like Field.label: DRF's metaclass takes it out of the class
    label = serializers.IntegerField(required=False)  # type: ignore[assignment]
    blocked = serializers.BooleanField(required=False, allow_null=True, default=None)
    archived = serializers.BooleanField(required=False, default=False)
    q = serializers.CharField(required=False, max_length=200, allow_blank=True)


def validated_query(serializer_class, request: AuthedRequest) -> dict[str, Any]:
    serializer = serializer_class(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return {k: v for k, v in serializer.validated_data.items() if v is not None}


class CardCreateView(APIView):
    @extend_schema(request=s.CardInput, responses={201: s.CardOut, **ERRORS, **CONFLICT})
    def post(self, request: AuthedRequest, board_id: int) -> Response:
        board = selectors.get_board_for_user(request.user, board_id)
        data = validated(s.CardInput, request)
        card = services.create_card(
            board,
            title=data["title"],
            description=data["description"],
            column=selectors.resolve_column(board, data["column"]),
            swimlane=selectors.resolve_swimlane(board, data.get("swimlane")),
            position=data.get("position"),
            assignees=selectors.resolve_assignees(board, data["assignees"]),
            labels=selectors.resolve_labels(board, data["labels"]),
            value=data["value"],
            customer=data["customer"],
            class_of_service=data["class_of_service"],
            due_date=data["due_date"],
            override_reason=data["override_reason"],
            actor=request.user,
        )
        return Response(selectors.card_as_dict(card.pk), status=status.HTTP_201_CREATED)


def if_match_version(request: AuthedRequest) -> int | None:
    """The card version of an `If-Match: "<n>"` header (a weak `W/"<n>"` too); None without
    one, or for `*` (any version). Anything else is a 400: a client that meant to guard its
    write must not have it go through unguarded."""
    header = request.headers.get("If-Match")
    if header is None or header.strip() == "*":
        return None
    tag = header.strip().removeprefix("W/").strip('"')
    if not (tag.isascii() and tag.isdigit()) or int(tag) < 1:
        raise InvalidInput(
            'If-Match must be a card\'s ETag, its version in quotes: "3".',
            fields={"If-Match": ["A card version in quotes."]},
        )
    return int(tag)


def etagged(card: selectors.CardData) -> Response:
    return Response(card, headers={"ETag": f'"{card["version"]}"'})


VERSION_CONFLICT = {
    409: OpenApiResponse(
        s.VersionConflictOut,
        description="`version_conflict` (the body's `version` is not the card's), "
        "`wip_limit_exceeded` or `conflict`. With the card as it is and what changed since.",
    ),
    412: OpenApiResponse(
        s.VersionConflictOut,
        description="`version_conflict`: If-Match is not the card's ETag; nothing changed.",
    ),
}


class CardDetailView(APIView):
    @extend_schema(responses={200: s.CardOut, **ERRORS})
    def get(self, request: AuthedRequest, card_id: int) -> Response:
        card = selectors.get_card_for_user(request.user, card_id)
        return etagged(selectors.card_as_dict(card.pk))

    @extend_schema(
        request=s.CardUpdateInput,
        parameters=[
            OpenApiParameter(
                "If-Match",
                str,
                OpenApiParameter.HEADER,
                description='The ETag of the card as the client loaded it ("<version>"): the '
                "edit is refused with 412 if anyone changed the card since.",
            )
        ],
        responses={200: s.CardOut, **ERRORS, **VERSION_CONFLICT},
        description=(
            "Edit a card: only the fields sent change. Guard the edit with `If-Match` (412 when "
            "stale) or `version` in the body (409 when stale): a stale edit changes nothing and "
            "the answer carries the card as it is and `changes`, who changed what since. "
            "Without either, the edit is made whatever the card's version. 409 "
            "`wip_limit_exceeded`, changing nothing, when a new `class_of_service` of a card in "
            "progress, or a restore (`archived: false`) into a column, would pass a hard WIP "
            "limit (the column's, or the class's); owners and admins may pass it with "
            "`override_reason`."
        ),
    )
    def patch(self, request: AuthedRequest, card_id: int) -> Response:
        card = selectors.get_card_for_user(request.user, card_id)
        header_version = if_match_version(request)
        data = dict(validated(s.CardUpdateInput, request))
        body_version = data.pop("version", None)
        expected = header_version if header_version is not None else body_version
        archived = data.pop("archived", None)
        override_reason = data.pop("override_reason", "")
        if "assignees" in data:
            data["assignees"] = selectors.resolve_assignees(card.board, data["assignees"])
        if "labels" in data:
            data["labels"] = selectors.resolve_labels(card.board, data["labels"])
        # One transaction: an edit and an archive in one PATCH land together or not at all.
        try:
            with transaction.atomic():
                # An empty PATCH still goes through the service, which checks the right to
                # write: a viewer must get 403, not a 200 for a change they may not make. A
                # guarded one too: the version is checked under the card's lock, before any
                # change of this PATCH.
                if data or archived is None or expected is not None:
                    services.update_card(
                        card,
                        **data,
                        expected_version=expected,
                        override_reason=override_reason,
                        actor=request.user,
                    )
                if archived is True:
                    services.archive_card(card, actor=request.user)
                elif archived is False:
                    services.restore_card(card, override_reason=override_reason, actor=request.user)
        except StaleVersion as stale:
            if header_version is not None:
                stale.status = status.HTTP_412_PRECONDITION_FAILED
            raise
        return etagged(selectors.card_as_dict(card.pk))

    @extend_schema(responses={204: None, **ERRORS})
    def delete(self, request: AuthedRequest, card_id: int) -> Response:
        card = selectors.get_card_for_user(request.user, card_id)
        services.delete_card(card, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CardMoveView(APIView):
    @extend_schema(
        request=s.MoveInput,
        responses={200: s.MoveOut, **ERRORS, **CONFLICT},
        description=(
            "Move a card. A position past the end of the target cell is clamped to the end. "
            "409 `wip_limit_exceeded` when the target column is at a hard WIP limit; nothing "
            "changes. Owners and admins may pass it with `override_reason`. With "
            "`expected_column`, 409 `conflict` when the card is no longer in that column (it "
            "says who moved it where, and carries the card and `changes`); nothing changes."
        ),
    )
    def post(self, request: AuthedRequest, card_id: int) -> Response:
        try:
            data = validated(s.MoveInput, request)
        except (serializers.ValidationError, ParseError):
            # A card the user cannot see is not found, whatever the body says, as everywhere
            # else; looked up only on this path, so that a good move costs no extra query.
            selectors.get_card_for_user(request.user, card_id)
            raise
        # Ids as they come: the service reads the card, the actor's access and the column (and
        # swimlane) along with its locks, and answers 404 / 400 / 403 in that order.
        move = services.move_card(
            card_id,
            to_column=data["column"],
            position=data.get("position"),
            swimlane=data.get("swimlane"),
            override_reason=data["override_reason"],
            expected_column=data.get("expected_column"),
            actor=request.user,
        )
        if move is None:  # already there: nothing changed
            card = selectors.card_as_dict(card_id)
            return Response(
                {"card": card, "seq": selectors.board_seq(card["board"]), "moved": False}
            )
        return Response({"card": move.card_data, "seq": move.seq, "moved": True})


class CardBlockView(APIView):
    @extend_schema(request=s.BlockInput, responses={200: s.CardOut, **ERRORS, **CONFLICT})
    def post(self, request: AuthedRequest, card_id: int) -> Response:
        card = selectors.get_card_for_user(request.user, card_id)
        data = validated(s.BlockInput, request)
        services.block_card(card, reason=data["reason"], actor=request.user)
        return Response(selectors.card_as_dict(card.pk))


class CardUnblockView(APIView):
    @extend_schema(request=None, responses={200: s.CardOut, **ERRORS, **CONFLICT})
    def post(self, request: AuthedRequest, card_id: int) -> Response:
        card = selectors.get_card_for_user(request.user, card_id)
        services.unblock_card(card, actor=request.user)
        return Response(selectors.card_as_dict(card.pk))


class CardCommentsView(APIView):
    pagination_class = Pagination

    @extend_schema(responses={200: s.CommentOut(many=True), **ERRORS})
    def get(self, request: AuthedRequest, card_id: int) -> Response:
        card = selectors.get_card_for_user(request.user, card_id)
        return paginated(
            self,
            request,
            selectors.card_comments(card),
            lambda page: [selectors.comment_dict(c) for c in page],
        )

    @extend_schema(request=s.CommentInput, responses={201: s.CommentOut, **ERRORS})
    def post(self, request: AuthedRequest, card_id: int) -> Response:
        card = selectors.get_card_for_user(request.user, card_id)
        data = validated(s.CommentInput, request)
        comment = services.add_comment(card, body=data["body"], actor=request.user)
        return Response(selectors.comment_dict(comment), status=status.HTTP_201_CREATED)


class CardHistoryView(APIView):
    pagination_class = Pagination

    @extend_schema(
        responses={200: s.HistoryOut(many=True), **ERRORS},
        description=(
            "Everything that happened to the card, oldest first: `kind` created, moved "
            "(from_column, to_column...), edited (field, old, new), commented (comment), "
            "blocked (reason), unblocked, archived, restored; each with `at`, `actor` and the "
            "card `version` it made. Page numbers only (no `cursor`)."
        ),
    )
    def get(self, request: AuthedRequest, card_id: int) -> Response:
        card = selectors.get_card_for_user(request.user, card_id)
        return paginated(self, request, selectors.card_history(card), list)


class BoardEventsView(APIView):
    pagination_class = Pagination
    seq_param = "after_seq"  # keyset paging by seq (kanban.api.Pagination)

    @extend_schema(
        parameters=[
            OpenApiParameter("since", int, description="Events after this seq."),
            OpenApiParameter(
                "after_seq",
                int,
                description="Events after this seq, as `since`, paged by seq: `next` and "
                "`next_cursor` carry the last seq of the page, `has_more` says if more follow.",
            ),
        ],
        responses={200: s.EventOut(many=True), **ERRORS},
    )
    def get(self, request: AuthedRequest, board_id: int) -> Response:
        board = selectors.get_board_for_user(request.user, board_id)
        name = self.seq_param if self.seq_param in request.query_params else "since"
        since = request.query_params.get(name, "0")
        if not (since.isascii() and since.isdigit()):
            raise InvalidInput(
                f"{name} must be a seq (an integer, 0 or more).",
                fields={name: ["An integer >= 0."]},
            )
        events = events_since(board.pk, int(since))
        return paginated(
            self,
            request,
            events,
            lambda page: [event_payload(e, actor_dict(e.actor)) for e in page],
        )


class MetricsQueryInput(serializers.Serializer):
    # `from` is a Python keyword: the field is declared below under its query-string name.
    to = serializers.DateField(required=False)

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = serializers.DateField(required=False)
        return fields

    def validate(self, attrs):
        if ("from" in attrs) != ("to" in attrs):
            raise serializers.ValidationError("Give both from and to, or neither.")
        return attrs


WINDOW_DAYS = (
    f"between {metrics.EARLIEST_DAY} and {metrics.LATEST_DAY}; give both from and to, at most "
    "two years apart"
)


class BoardMetricsView(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter(
                "from", OpenApiTypes.DATE, description=f"Window start (inclusive), {WINDOW_DAYS}."
            ),
            OpenApiParameter(
                "to", OpenApiTypes.DATE, description=f"Window end (inclusive), {WINDOW_DAYS}."
            ),
        ],
        responses={200: OpenApiTypes.OBJECT, **ERRORS},
        description=(
            "Flow metrics: lead and cycle time (count, mean, p50, p85, p95, in days), "
            "throughput per ISO week, WIP per column, flow efficiency, blocked time, a "
            "cumulative flow diagram and ageing work in progress, with `computed_at`; "
            "`dependency_waits`: per pair of teams (`team` waiting on `on_team`) the waits "
            "ended in the window (count, p50, p85 in days) and open now, and `lead_share`, the "
            "part of finished cards' lead time spent waiting on other cards. Without "
            "from/to: the last 90 days, served from the snapshot the background task keeps "
            "fresh."
        ),
    )
    def get(self, request: AuthedRequest, board_id: int) -> Response:
        board = selectors.get_board_for_user(request.user, board_id)
        query = validated_query(MetricsQueryInput, request)
        window = None
        if "from" in query:
            window = metrics.chosen_window(query["from"], query["to"])
        snapshot = metrics.stored_or_computed(board, window)
        # read now, not stored: another board's move ends this board's waits
        return Response({**snapshot.data, "dependency_waits": dependency_waits(board, window)})


class BoardAlertsView(APIView):
    pagination_class = Pagination

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "state", str, enum=["open", "closed", "all"], description="Default: open."
            )
        ],
        responses={200: s.AlertOut(many=True), **ERRORS},
    )
    def get(self, request: AuthedRequest, board_id: int) -> Response:
        board = selectors.get_board_for_user(request.user, board_id)
        state = request.query_params.get("state", "open")
        if state not in ("open", "closed", "all"):
            raise InvalidInput("state is open, closed or all.", fields={"state": ["Unknown."]})
        alerts = selectors.board_alerts(board, state)
        return paginated(self, request, alerts, lambda page: [alert_dict(a) for a in page])
