"""Input serializers validate and parse request bodies; output serializers only describe, for
the OpenAPI schema, the plain dicts that boards.selectors builds (responses are never rendered
through per-object serializers: building dicts is ~20x cheaper on a 1,000-card board)."""

from rest_framework import serializers

from boards.live.events import ActorData
from boards.models import AlertKind, ClassOfService, Stage, WaitEnd, WipPolicy
from boards.selectors import (
    CardData,
    ChangeData,
    ColumnData,
    HistoryEntryData,
    LabelData,
    PersonData,
    SwimlaneData,
)
from boards.selectors.waits import CardWaitsData, WaitCardData, WaitData
from kanban.api import shape_serializer

# --- input -----------------------------------------------------------------------------------


class ColumnInput(serializers.Serializer):
    name = serializers.CharField(max_length=80)
    stage = serializers.ChoiceField(choices=Stage.choices, default=Stage.WAIT)
    position = serializers.IntegerField(
        min_value=0,
        required=False,
        allow_null=True,
        help_text="0-based index among the board's columns; past the end means last.",
    )
    wip_limit = serializers.IntegerField(
        min_value=1, max_value=10_000, required=False, allow_null=True, help_text="null: no limit"
    )
    wip_policy = serializers.ChoiceField(choices=WipPolicy.choices, default=WipPolicy.SOFT)
    policy = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class ColumnUpdateInput(ColumnInput):
    name = serializers.CharField(max_length=80, required=False)
    stage = serializers.ChoiceField(choices=Stage.choices, required=False)
    wip_policy = serializers.ChoiceField(choices=WipPolicy.choices, required=False)
    policy = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    position = serializers.IntegerField(min_value=0, required=False)


class SwimlaneInput(serializers.Serializer):
    name = serializers.CharField(max_length=80)
    position = serializers.IntegerField(min_value=0, required=False, allow_null=True)
    wip_limit = serializers.IntegerField(
        min_value=1, max_value=10_000, required=False, allow_null=True
    )


class SwimlaneUpdateInput(SwimlaneInput):
    name = serializers.CharField(max_length=80, required=False)
    position = serializers.IntegerField(min_value=0, required=False)


class BoardInput(serializers.Serializer):
    team = serializers.IntegerField(help_text="Id of the team that owns the board.")
    name = serializers.CharField(max_length=120)
    description = serializers.CharField(
        max_length=5000, required=False, allow_blank=True, default=""
    )
    columns = ColumnInput(
        many=True,
        required=False,
        help_text=(
            "Columns, left to right. Omitted: Backlog, Ready (wait), Doing (active), "
            "Review (wait), Done (done)."
        ),
    )
    swimlanes = serializers.ListField(
        child=serializers.CharField(max_length=80),
        required=False,
        max_length=50,
        help_text='Swimlane names, top to bottom. Omitted: one "Default" lane.',
    )

    def validate_columns(self, value):
        if value is not None and len(value) == 0:
            raise serializers.ValidationError("A board needs at least one column.")
        if len(value) > 50:
            raise serializers.ValidationError("At most 50 columns.")
        return value


class BoardUpdateInput(serializers.Serializer):
    team = serializers.IntegerField(required=False)
    name = serializers.CharField(max_length=120, required=False)
    description = serializers.CharField(max_length=5000, required=False, allow_blank=True)
    release_done_after_days = serializers.IntegerField(
        min_value=1,
        max_value=365,
        required=False,
        allow_null=True,
        help_text="The release policy: cards finished more than this many days ago are "
        "archived (hourly); null: never.",
    )
    no_done_while_waiting = serializers.BooleanField(
        required=False,
        help_text="The board's rule: a card that waits on another card may not enter a done "
        "column (409 `still_waiting`, unless an owner/admin gives `override_reason`).",
    )


class LabelInput(serializers.Serializer):
    name = serializers.CharField(max_length=40)
    color = serializers.RegexField(
        r"^#[0-9a-fA-F]{6}$", required=False, default="#64748b", help_text="#rrggbb"
    )


class CardInput(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(
        max_length=20_000, required=False, allow_blank=True, default="", help_text="Markdown."
    )
    column = serializers.IntegerField(help_text="Id of a column of this board.")
    swimlane = serializers.IntegerField(
        required=False, allow_null=True, help_text="Id of a swimlane; default: the first."
    )
    position = serializers.IntegerField(
        min_value=0,
        required=False,
        allow_null=True,
        help_text="0-based index in (column, swimlane). Omitted or past the end: the card goes "
        "last (positions past the end are clamped, not refused).",
    )
    assignees = serializers.ListField(
        child=serializers.IntegerField(), required=False, max_length=20, default=list
    )
    labels = serializers.ListField(
        child=serializers.IntegerField(), required=False, max_length=20, default=list
    )
    value = serializers.IntegerField(
        min_value=0, max_value=100, required=False, default=50, help_text="Customer value, 0-100."
    )
    customer = serializers.CharField(max_length=120, required=False, allow_blank=True, default="")
    class_of_service = serializers.ChoiceField(
        choices=ClassOfService.choices, default=ClassOfService.STANDARD
    )
    due_date = serializers.DateField(required=False, allow_null=True, default=None)
    override_reason = serializers.CharField(
        max_length=500, required=False, allow_blank=True, default=""
    )


class CardUpdateInput(serializers.Serializer):
    title = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(max_length=20_000, required=False, allow_blank=True)
    assignees = serializers.ListField(
        child=serializers.IntegerField(), required=False, max_length=20
    )
    labels = serializers.ListField(child=serializers.IntegerField(), required=False, max_length=20)
    value = serializers.IntegerField(min_value=0, max_value=100, required=False)
    customer = serializers.CharField(max_length=120, required=False, allow_blank=True)
    class_of_service = serializers.ChoiceField(choices=ClassOfService.choices, required=False)
    due_date = serializers.DateField(required=False, allow_null=True)
    archived = serializers.BooleanField(
        required=False,
        help_text="true archives the card (off the board, out of WIP); "
        "false restores it at the end of its cell.",
    )
    override_reason = serializers.CharField(
        max_length=500,
        required=False,
        allow_blank=True,
        help_text="Owners and admins only: pass a hard WIP limit that a new class of service "
        "or a restore would break, recorded in the event.",
    )
    version = serializers.IntegerField(
        min_value=1,
        required=False,
        help_text="The card's version as the client loaded it: 409 `version_conflict`, "
        "changing nothing, if the card changed since (If-Match does the same with 412).",
    )

    def validate(self, attrs):
        for field in ("column", "swimlane", "position"):
            if field in self.initial_data:
                raise serializers.ValidationError(
                    {field: "Cards change place through POST /api/v1/cards/{id}/move/."}
                )
        for field in ("blocked", "block_reason"):
            if field in self.initial_data:
                raise serializers.ValidationError(
                    {
                        field: "Block and unblock through POST /api/v1/cards/{id}/block/ and "
                        "/unblock/."
                    }
                )
        return attrs


class MoveInput(serializers.Serializer):
    column = serializers.IntegerField(help_text="Id of the target column (same board).")
    position = serializers.IntegerField(
        min_value=0,
        required=False,
        allow_null=True,
        help_text="0-based index in the target cell. Omitted or past the end: last (clamped).",
    )
    swimlane = serializers.IntegerField(
        required=False, allow_null=True, help_text="Target swimlane; default: the card's own."
    )
    override_reason = serializers.CharField(
        max_length=500,
        required=False,
        allow_blank=True,
        default="",
        help_text="Owners and admins only: pass a hard WIP limit, recorded in the history.",
    )
    expected_column = serializers.IntegerField(
        required=False,
        help_text="The column the client saw the card in: 409 `conflict`, changing nothing, "
        "when it is no longer there (moved by someone else meanwhile).",
    )


class BlockInput(serializers.Serializer):
    reason = serializers.CharField(max_length=500)


class CommentInput(serializers.Serializer):
    body = serializers.CharField(max_length=10_000, help_text="Markdown.")


# --- output (schema only) --------------------------------------------------------------------


# Made from the selectors' TypedDicts (kanban.api.shape_serializer): the keys are theirs; here
# only what the schema says beyond a plain type.
ActorOut = shape_serializer(ActorData, name="ActorOut")
PersonOut = shape_serializer(PersonData, name="PersonOut")

CardOut = shape_serializer(
    CardData,
    name="CardOut",
    position=serializers.IntegerField(allow_null=True, help_text="null once archived"),
    description_html=serializers.CharField(help_text="The description rendered, sanitised."),
    class_of_service=serializers.ChoiceField(choices=ClassOfService.choices),
    due_date=serializers.DateField(allow_null=True),
    created_at=serializers.DateTimeField(),
    updated_at=serializers.DateTimeField(),
    committed_at=serializers.DateTimeField(allow_null=True),
    started_at=serializers.DateTimeField(allow_null=True),
    finished_at=serializers.DateTimeField(allow_null=True),
    age_days=serializers.FloatField(
        help_text="Days since commitment (creation while in the backlog), to the finish if "
        "finished."
    ),
)

ColumnOut = shape_serializer(
    ColumnData,
    name="ColumnOut",
    stage=serializers.ChoiceField(choices=Stage.choices),
    wip_policy=serializers.ChoiceField(choices=WipPolicy.choices),
)
SwimlaneOut = shape_serializer(SwimlaneData, name="SwimlaneOut")
LabelOut = shape_serializer(LabelData, name="LabelOut")


class BoardSummaryOut(serializers.Serializer):
    id = serializers.IntegerField()
    organization = serializers.CharField(help_text="The organisation's slug.")
    team = serializers.IntegerField()
    team_name = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    seq = serializers.IntegerField(help_text="The last seq of the board's event log.")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    release_done_after_days = serializers.IntegerField(
        allow_null=True,
        help_text="Cards finished more than this many days ago are archived; null: never.",
    )
    no_done_while_waiting = serializers.BooleanField(
        help_text="No card that waits on another enters a done column (the board's rule)."
    )


class BoardListOut(BoardSummaryOut):
    cards = serializers.IntegerField(help_text="Live cards on the board.")
    can_write = serializers.BooleanField()


class BoardOut(BoardSummaryOut):
    can_write = serializers.BooleanField()
    columns = ColumnOut(many=True)
    swimlanes = SwimlaneOut(many=True)
    labels = LabelOut(many=True)
    people = PersonOut(many=True)
    cards = CardOut(many=True)


class MoveOut(serializers.Serializer):
    card = CardOut()
    seq = serializers.IntegerField(
        help_text="The seq of the card.moved event (the board's current seq when nothing moved)."
    )
    moved = serializers.BooleanField()


class CommentOut(serializers.Serializer):
    id = serializers.IntegerField()
    card = serializers.IntegerField()
    author = PersonOut(allow_null=True)
    body = serializers.CharField()
    body_html = serializers.CharField()
    created_at = serializers.DateTimeField()


HistoryOut = shape_serializer(
    HistoryEntryData,
    name="HistoryOut",
    kind=serializers.ChoiceField(
        choices=[
            "created",
            "moved",
            "edited",
            "commented",
            "blocked",
            "unblocked",
            "archived",
            "restored",
        ]
    ),
    at=serializers.DateTimeField(),
    actor=PersonOut(allow_null=True),
    version=serializers.IntegerField(
        allow_null=True, help_text="The card's version this made (null: a comment)."
    ),
    field=serializers.CharField(allow_null=True, help_text="edited: the field."),
    old=serializers.JSONField(help_text="edited: the value before (any JSON, null too)."),
    new=serializers.JSONField(help_text="edited: the value after (any JSON, null too)."),
    reason=serializers.CharField(allow_null=True, help_text="blocked: why."),
    comment=CommentOut(allow_null=True),
    from_column=serializers.IntegerField(allow_null=True, help_text="moved: from where."),
)

ChangeOut = shape_serializer(
    ChangeData,
    name="ChangeOut",
    at=serializers.DateTimeField(),
    by=serializers.CharField(allow_null=True, help_text="A username; null: the release policy."),
    field=serializers.CharField(help_text="A card field; column for a move, blocked, archived."),
    new=serializers.JSONField(help_text="The value it was changed to (any JSON, null too)."),
)


class VersionConflictOut(serializers.Serializer):
    code = serializers.CharField()
    detail = serializers.CharField(help_text="Who changed what since, as a sentence.")
    error = serializers.CharField(help_text="The same sentence.")
    card = CardOut()
    changes = ChangeOut(many=True)


class EventOut(serializers.Serializer):
    type = serializers.CharField(
        help_text="card.moved, card.created, card.updated, ...; card.wait_added and "
        "card.wait_ended (on both cards' boards: `data.card` is this board's card of the wait, "
        "`data.wait` has `id`, `card`, `on_card` (null for the other board's card), `board`, "
        "`on_board`, `started_at`, `ended_at`, `ended_reason`); improvement.started and "
        "improvement.reviewed (`data.improvement` has `id`, `title`, `target_metric`, "
        "`status`, `started_on`; a review adds `verdict`, a sentence, `signal` and `final`: "
        "false for an interim look; a review closed by the review date has no actor)"
    )
    board = serializers.IntegerField()
    seq = serializers.IntegerField()
    at = serializers.DateTimeField()
    actor = ActorOut(allow_null=True)
    data = serializers.DictField()  # type: ignore[assignment]  # see kanban.api.ErrorOut.fields


class AlertOut(serializers.Serializer):
    id = serializers.IntegerField()
    board = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=AlertKind.choices)
    key = serializers.CharField(help_text='What it is about: "column:12", "person:5", ...')
    column = serializers.IntegerField(allow_null=True)
    swimlane = serializers.IntegerField(allow_null=True)
    user = serializers.IntegerField(allow_null=True)
    card = serializers.IntegerField(allow_null=True)
    detail = serializers.CharField(help_text="What is wrong, as a sentence.")
    data = serializers.DictField()  # type: ignore[assignment]  # see kanban.api.ErrorOut.fields
    opened_at = serializers.DateTimeField()
    closed_at = serializers.DateTimeField(allow_null=True)
    open = serializers.BooleanField()


# --- waits (boards/api/waits.py) -------------------------------------------------------------


class WaitInput(serializers.Serializer):
    on = serializers.IntegerField(
        min_value=1, help_text="The id of the card to wait on: any board of the organisation."
    )


WaitCardOut = shape_serializer(
    WaitCardData,
    name="WaitCardOut",
    visible=serializers.BooleanField(
        help_text="false: the reader may not read that board, and sees only its team."
    ),
    ref=serializers.CharField(allow_null=True, help_text='"#42": how the card is referred to.'),
    url=serializers.CharField(allow_null=True, help_text="The card open on its board."),
)
WaitOut = shape_serializer(
    WaitData,
    name="WaitOut",
    card=WaitCardOut(help_text="The waiting card."),
    on_card=WaitCardOut(help_text="The card waited on."),
    started_at=serializers.DateTimeField(),
    ended_at=serializers.DateTimeField(allow_null=True),
    ended_reason=serializers.ChoiceField(
        choices=[("", "open"), *WaitEnd.choices],
        help_text='"" while open; "finished" (the card waited on was) or "removed".',
    ),
    days=serializers.FloatField(help_text="Days waited so far, or until it ended."),
)
CardWaitsOut = shape_serializer(
    CardWaitsData,
    name="CardWaitsOut",
    waits=WaitOut(many=True, help_text="What this card waits (or waited) on, open first."),
    waited_on_by=WaitOut(many=True, help_text="The cards that wait (or waited) on this one."),
    waited_on_summary=serializers.CharField(help_text='"2 cards on 2 teams" waiting now, or "".'),
)
