from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import Organization, Team


class Stage(models.TextChoices):
    BACKLOG = "backlog", "Backlog"
    WAIT = "wait", "Wait"
    ACTIVE = "active", "Active"
    DONE = "done", "Done"


class WipPolicy(models.TextChoices):
    SOFT = "soft", "Soft (alert)"
    HARD = "hard", "Hard (refuse)"


class ClassOfService(models.TextChoices):
    EXPEDITE = "expedite", "Expedite"
    FIXED_DATE = "fixed_date", "Fixed date"
    STANDARD = "standard", "Standard"
    INTANGIBLE = "intangible", "Intangible"


class Board(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="boards")
    # RESTRICT, not PROTECT: a team with boards cannot be deleted on its own, but deleting the
    # whole organisation takes both.
    team = models.ForeignKey(Team, on_delete=models.RESTRICT, related_name="boards")
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True, max_length=5000)
    # The last seq of the board's event log. Incremented under the row lock by
    # boards.live.events.append_event, which is what makes the log gap-free.
    last_seq = models.BigIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    # The release policy: cards finished more than this many days ago are archived by the
    # hourly task (boards.tasks.release_done_cards); null: never.
    release_done_after_days = models.PositiveSmallIntegerField(null=True, blank=True)
    # The board's rule: a card may not enter a done column while it waits on another card
    # (a 409 unless an owner/admin overrides with a reason, recorded like a WIP override).
    no_done_while_waiting = models.BooleanField(default=False)

    class Meta:
        ordering = ["organization_id", "name", "id"]
        indexes = [models.Index(fields=["organization", "team"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(release_done_after_days__isnull=True)
                | Q(release_done_after_days__gte=1, release_done_after_days__lte=365),
                name="board_release_done_after_days_1_365",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Column(models.Model):
    board = models.ForeignKey(Board, on_delete=models.CASCADE, related_name="columns")
    name = models.CharField(max_length=80)
    stage = models.CharField(max_length=10, choices=Stage.choices, default=Stage.WAIT)
    position = models.PositiveSmallIntegerField(default=0)
    wip_limit = models.PositiveSmallIntegerField(null=True, blank=True)
    wip_policy = models.CharField(max_length=4, choices=WipPolicy.choices, default=WipPolicy.SOFT)
    policy = models.TextField(
        blank=True,
        max_length=2000,
        help_text="Explicit entry/exit rules, e.g. a definition of done",
    )

    class Meta:
        ordering = ["board_id", "position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(stage__in=[s.value for s in Stage]), name="column_stage_valid"
            ),
            models.CheckConstraint(
                condition=Q(wip_policy__in=[p.value for p in WipPolicy]),
                name="column_wip_policy_valid",
            ),
            models.CheckConstraint(
                condition=Q(wip_limit__isnull=True) | Q(wip_limit__gte=1),
                name="column_wip_limit_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.board}: {self.name}"


class Swimlane(models.Model):
    board = models.ForeignKey(Board, on_delete=models.CASCADE, related_name="swimlanes")
    name = models.CharField(max_length=80)
    position = models.PositiveSmallIntegerField(default=0)
    wip_limit = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["board_id", "position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(wip_limit__isnull=True) | Q(wip_limit__gte=1),
                name="swimlane_wip_limit_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.board}: {self.name}"


class Label(models.Model):
    board = models.ForeignKey(Board, on_delete=models.CASCADE, related_name="labels")
    name = models.CharField(max_length=40)
    color = models.CharField(max_length=7, default="#64748b")

    class Meta:
        ordering = ["board_id", "name"]
        constraints = [
            models.UniqueConstraint(fields=["board", "name"], name="label_name_unique"),
            models.CheckConstraint(
                condition=Q(color__regex=r"^#[0-9a-fA-F]{6}$"), name="label_color_hex"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Card(models.Model):
    # No index of their own for `board` and `column`: Meta's indexes begin with them (and the
    # rank's, with the column), and every move writes each of a card's indexes again.
    board = models.ForeignKey(Board, on_delete=models.CASCADE, related_name="cards", db_index=False)
    # A column or lane holding cards cannot be deleted by itself (the services refuse with a
    # message first); deleting the board takes all three.
    column = models.ForeignKey(
        Column, on_delete=models.RESTRICT, related_name="cards", db_index=False
    )
    swimlane = models.ForeignKey(Swimlane, on_delete=models.RESTRICT, related_name="cards")
    # The card's place in its (column, swimlane): live cards sort by rank, which leaves gaps
    # (RANK_GAP) so that a card placed between two others takes a rank between theirs and no
    # other card is renumbered. NULL once archived. The API's `position` is the card's index in
    # that order (boards.selectors.cards); `Cell` counts the live cards of each cell.
    rank = models.BigIntegerField(null=True)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True, max_length=20_000)
    # Rendered and sanitised once, on write, so that reading a board never renders markdown.
    description_html = models.TextField(blank=True, editable=False)
    assignees = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="assigned_cards", blank=True
    )
    labels = models.ManyToManyField(Label, related_name="cards", blank=True)
    value = models.PositiveSmallIntegerField(default=50, validators=[MaxValueValidator(100)])
    customer = models.CharField(max_length=120, blank=True)
    class_of_service = models.CharField(
        max_length=12, choices=ClassOfService.choices, default=ClassOfService.STANDARD
    )
    due_date = models.DateField(null=True, blank=True)
    blocked = models.BooleanField(default=False)
    block_reason = models.CharField(max_length=500, blank=True)
    archived = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    # Flow timestamps kept by the services from the move history (the history stays the truth):
    committed_at = models.DateTimeField(null=True, blank=True)  # first entry outside the backlog
    started_at = models.DateTimeField(null=True, blank=True)  # first entry into an active column
    finished_at = models.DateTimeField(null=True, blank=True)  # last entry into done, while there
    archived_at = models.DateTimeField(null=True, blank=True)
    # Time in active columns while not blocked, from commitment to finish; set when the card
    # finishes, so that flow efficiency can be refreshed without re-reading the history.
    flow_active_seconds = models.FloatField(null=True, blank=True, editable=False)
    # Incremented by every write to the card (an edit, a block or unblock, an archive or a
    # restore, a move) in the statement that writes it: a client that loaded version n and
    # sends it back (If-Match) is refused when someone else wrote meanwhile.
    version = models.PositiveBigIntegerField(default=1, db_default=1)

    class Meta:
        ordering = ["board_id", "column_id", "swimlane_id", "rank"]
        constraints = [
            # Archived cards have no rank (NULLs never collide), so this covers live cards.
            # Deferred to commit: respacing a cell's ranks (services.rules._respace) is then one
            # UPDATE, whose rows pass through each other's ranks on the way. SQLite has no
            # deferrable constraints: there, the services alone keep ranks unique. The index
            # also serves every look-up of a place in a cell (ORDER BY rank within the cell).
            models.UniqueConstraint(
                fields=["column", "swimlane", "rank"],
                name="card_rank_unique_in_cell",
                deferrable=models.Deferrable.DEFERRED,
            ),
            models.CheckConstraint(
                condition=Q(archived=True, rank__isnull=True)
                | Q(archived=False, rank__isnull=False),
                name="card_rank_iff_live",
            ),
            models.CheckConstraint(condition=Q(value__lte=100), name="card_value_0_100"),
            models.CheckConstraint(
                condition=Q(class_of_service__in=[c.value for c in ClassOfService]),
                name="card_class_of_service_valid",
            ),
            models.CheckConstraint(
                condition=Q(blocked=True) | Q(block_reason=""), name="card_block_reason_iff_blocked"
            ),
            models.CheckConstraint(condition=Q(version__gte=1), name="card_version_positive"),
        ]
        indexes = [
            models.Index(fields=["board", "archived"]),
            models.Index(fields=["column", "archived"]),
            models.Index(fields=["board", "finished_at"]),
        ]

    def __str__(self) -> str:
        return self.title


# Ranks of a cell's cards start RANK_GAP apart: 2**32 leaves room for 32 cards placed one after
# another between the same two neighbours before the cell is respaced, and for 2**31 cards
# appended to one cell.
RANK_GAP = 2**32


class Cell(models.Model):
    """How many live cards a (column, swimlane) holds, kept by the services in the transaction
    that changes it, under the column's lock: the index of a card placed at the end, and a
    column's WIP, are then read from a row or two, not counted over 50,000 cards."""

    column = models.ForeignKey(Column, on_delete=models.CASCADE, related_name="cells")
    swimlane = models.ForeignKey(Swimlane, on_delete=models.CASCADE, related_name="cells")
    size = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["column", "swimlane"], name="cell_unique"),
            models.CheckConstraint(condition=Q(size__gte=0), name="cell_size_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.column_id}/{self.swimlane_id}: {self.size}"


class CardMove(models.Model):
    """One entry of a card's history: its creation (no from_column) or a move."""

    # No index of their own: Meta's indexes begin with them, and every move writes a row.
    card = models.ForeignKey(Card, on_delete=models.CASCADE, related_name="moves", db_index=False)
    board = models.ForeignKey(Board, on_delete=models.CASCADE, related_name="moves", db_index=False)
    from_column = models.ForeignKey(
        Column, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    to_column = models.ForeignKey(Column, on_delete=models.SET_NULL, null=True, related_name="+")
    from_swimlane = models.ForeignKey(
        Swimlane, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    to_swimlane = models.ForeignKey(
        Swimlane, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    # Stages copied at move time so that metrics survive a column being edited or deleted.
    from_stage = models.CharField(max_length=10, choices=Stage.choices, blank=True)
    to_stage = models.CharField(max_length=10, choices=Stage.choices)
    position = models.PositiveIntegerField()
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    override_reason = models.CharField(max_length=500, blank=True)
    # The card's version this entry made it (Card.version); null for moves made before cards
    # had versions.
    version = models.PositiveBigIntegerField(null=True, blank=True)
    # Not columns: set by move_card on the move it returns, for the API's answer.
    seq: int
    card_data: Mapping[str, Any]

    class Meta:
        ordering = ["at", "id"]
        indexes = [
            models.Index(fields=["card", "at"]),
            models.Index(fields=["board", "at"]),
            # Covers the metrics' one pass over a board's history in (card, time) order.
            models.Index(
                fields=["board", "card", "at", "id"],
                include=["to_stage"],
                name="cardmove_flow_scan",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.card_id}: {self.from_column_id} -> {self.to_column_id} at {self.at}"


class Block(models.Model):
    """The andon cord: a period during which a card was blocked, and why."""

    card = models.ForeignKey(Card, on_delete=models.CASCADE, related_name="blocks")
    board = models.ForeignKey(Board, on_delete=models.CASCADE, related_name="blocks")
    reason = models.CharField(max_length=500)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    blocked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    unblocked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["started_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["card"], condition=Q(ended_at__isnull=True), name="block_one_open_per_card"
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=F("started_at")),
                name="block_ends_after_start",
            ),
        ]
        indexes = [models.Index(fields=["board", "started_at"])]

    def __str__(self) -> str:
        return f"{self.card_id} blocked: {self.reason}"


class Comment(models.Model):
    card = models.ForeignKey(Card, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    body = models.TextField(max_length=10_000)
    body_html = models.TextField(editable=False)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"Comment {self.id} on {self.card_id}"


class Event(models.Model):
    """The board's event log: one row per change, `seq` gap-free and strictly increasing."""

    # No index of its own: the (board, seq) constraint's begins with it.
    board = models.ForeignKey(
        Board, on_delete=models.CASCADE, related_name="events", db_index=False
    )
    seq = models.BigIntegerField()
    type = models.CharField(max_length=40)
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    data = models.JSONField(default=dict)

    class Meta:
        ordering = ["board_id", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["board", "seq"], name="event_seq_unique"),
            models.CheckConstraint(condition=Q(seq__gte=1), name="event_seq_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.board_id}#{self.seq} {self.type}"


class AlertKind(models.TextChoices):
    WIP_COLUMN = "wip_column", "Column over its WIP limit"
    WIP_SWIMLANE = "wip_swimlane", "Swimlane over its WIP limit"
    WIP_PERSON = "wip_person", "Person over their WIP limit"
    WIP_OVERRIDE = "wip_override", "Hard WIP limit overridden"
    AGEING = "ageing", "Card ageing past the board's 85th percentile cycle time"
    WIP_CLASS = "wip_class", "Class of service over its WIP limit"
    SLE = "sle", "Card at risk of breaching, or past, its service level expectation"


class Alert(models.Model):
    """A problem made visible: open while it lasts, closed (not deleted) when it is over."""

    board = models.ForeignKey(Board, on_delete=models.CASCADE, related_name="alerts")
    kind = models.CharField(max_length=20, choices=AlertKind.choices)
    # What the alert is about, e.g. "column:12", "person:5", "card:40": one open alert per key.
    key = models.CharField(max_length=60)
    column = models.ForeignKey(
        Column, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    swimlane = models.ForeignKey(
        Swimlane, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    card = models.ForeignKey(
        Card, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    detail = models.CharField(max_length=300)
    data = models.JSONField(default=dict)
    opened_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["board", "key"],
                condition=Q(closed_at__isnull=True),
                name="alert_one_open_per_key",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=[k.value for k in AlertKind]), name="alert_kind_valid"
            ),
        ]
        indexes = [models.Index(fields=["board", "closed_at"])]

    def __str__(self) -> str:
        return f"{self.kind}: {self.detail}"


class MetricsSnapshot(models.Model):
    """A board's flow metrics for a window, as last computed in the background."""

    board = models.ForeignKey(Board, on_delete=models.CASCADE, related_name="metrics_snapshots")
    window_from = models.DateField()
    window_to = models.DateField()
    # True for the rolling default window that the background task keeps fresh.
    is_default = models.BooleanField(default=False)
    computed_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(default=0)
    data = models.JSONField(default=dict)

    class Meta:
        ordering = ["-computed_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["board"], condition=Q(is_default=True), name="metrics_one_default_per_board"
            ),
            models.UniqueConstraint(
                fields=["board", "window_from", "window_to", "is_default"],
                name="metrics_one_per_window",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.board_id} {self.window_from}..{self.window_to} at {self.computed_at}"


class ImportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class ImportJob(models.Model):
    """An import of another tool's export (a Trello board) into a new board, run by a worker.

    `export` holds the file only while the job is queued or running (cleared when it ends, so
    that 20 MB bodies do not stay in the database); `done` of `total` cards is its progress.
    `attempts` counts the runs started: a run that finds a higher number was superseded."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="import_jobs"
    )
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="import_jobs")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    name = models.CharField(max_length=120, help_text="The new board's name.")
    status = models.CharField(
        max_length=8, choices=ImportStatus.choices, default=ImportStatus.QUEUED
    )
    export = models.JSONField(null=True, blank=True, editable=False)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    board = models.ForeignKey(
        Board, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    counts = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in ImportStatus]),
                name="importjob_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(done__lte=F("total")), name="importjob_done_le_total"
            ),
        ]
        indexes = [models.Index(fields=["organization", "-created_at"])]

    def __str__(self) -> str:
        return f"Import {self.pk} ({self.status}): {self.name}"

    @property
    def finished(self) -> bool:
        return self.status in (ImportStatus.DONE, ImportStatus.FAILED)


# --- Webhooks and idempotency (boards/hooks/) -------------------------------------------------


class Webhook(models.Model):
    """An endpoint that receives the events of one board (`board` set) or of every board of the
    organisation (`board` null), signed as Standard Webhooks say (boards/hooks/signing.py).

    `secret` signs every delivery; after a rotation `previous_secret` signs them too until
    `previous_secret_expires_at`, so that a receiver can switch keys without losing one.
    `failing_since` is the first failed attempt since the last success: a hook failing for
    WEBHOOK_DISABLE_AFTER is disabled (`disabled_reason` says why), and re-enabling it replays
    what it missed."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="webhooks"
    )
    board = models.ForeignKey(
        Board, on_delete=models.CASCADE, null=True, blank=True, related_name="webhooks"
    )
    url = models.URLField(max_length=1000)
    description = models.CharField(max_length=200, blank=True)
    secret = models.CharField(max_length=100, editable=False)
    previous_secret = models.CharField(max_length=100, blank=True, editable=False)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    is_active = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=200, blank=True)
    failing_since = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["organization_id", "id"]
        constraints = [
            models.CheckConstraint(condition=~Q(secret=""), name="webhook_secret_set"),
            models.CheckConstraint(
                condition=Q(previous_secret="") | Q(previous_secret_expires_at__isnull=False),
                name="webhook_previous_secret_expires",
            ),
        ]

    def __str__(self) -> str:
        return f"Webhook {self.pk} -> {self.url}"


class WebhookCursor(models.Model):
    """How far into one board's event log a webhook is: `seq`, the last event turned into a
    delivery; `acked_seq`, the highest seq its receiver acknowledged (2xx). Locked by the
    dispatch, which is what keeps two dispatches from making the same deliveries."""

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="cursors")
    board = models.ForeignKey(Board, on_delete=models.CASCADE, related_name="+")
    seq = models.BigIntegerField(default=0)
    acked_seq = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["webhook", "board"], name="webhookcursor_unique"),
            models.CheckConstraint(condition=Q(seq__gte=0), name="webhookcursor_seq_positive"),
        ]

    def __str__(self) -> str:
        return f"Webhook {self.webhook_id} on board {self.board_id} at {self.seq}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"  # waiting for its first attempt or its next retry
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"  # given up: out of retries, or an answer not worth retrying


class WebhookDelivery(models.Model):
    """One event of one board for one webhook. `msg_id` is the `webhook-id` header: the same on
    every attempt and redelivery, so that receivers can drop duplicates. `body` is the exact
    bytes signed and sent, kept so that a retry sends the same thing."""

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    board = models.ForeignKey(Board, on_delete=models.CASCADE, related_name="+")
    seq = models.BigIntegerField()
    event_type = models.CharField(max_length=40)
    msg_id = models.CharField(max_length=40, unique=True)
    body = models.TextField()
    status = models.CharField(
        max_length=9, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    # Retries run until this long after `window_start` (WEBHOOK_RETRY_WINDOW): the creation,
    # or the redelivery / re-enabling that asked for it again.
    window_start = models.DateTimeField(default=timezone.now)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # A worker holds the delivery while it sends it; past this, another may take it over (the
    # first one died).
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    last_duration_ms = models.PositiveIntegerField(null=True, blank=True)
    succeeded_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["webhook", "board", "seq"], name="webhookdelivery_one_per_event"
            ),
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in DeliveryStatus]),
                name="webhookdelivery_status_valid",
            ),
            models.CheckConstraint(
                condition=~Q(status=DeliveryStatus.PENDING) | Q(next_attempt_at__isnull=False),
                name="webhookdelivery_pending_has_next_attempt",
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status=DeliveryStatus.PENDING),
                name="webhookdelivery_due",
            ),
            models.Index(fields=["webhook", "-id"], name="webhookdelivery_log"),
        ]

    def __str__(self) -> str:
        return f"{self.msg_id} ({self.status})"


class IdempotencyKey(models.Model):
    """The answer to a POST made with an `Idempotency-Key` header, replayed to a retry of it for
    IDEMPOTENCY_TTL (boards/hooks/idempotency.py). `scope` is a hash of the client's credential
    (its API token, or its session's user): keys of different clients never meet.
    `fingerprint` is a hash of the method, path and body: the same key with another request is
    an error. `status_code` null: the first request is still running."""

    scope = models.CharField(max_length=64)
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.BinaryField(blank=True, default=b"")
    content_type = models.CharField(max_length=100, blank=True)
    location = models.CharField(max_length=1000, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["scope", "key"], name="idempotencykey_unique"),
        ]
        indexes = [models.Index(fields=["created_at"], name="idempotencykey_age")]

    def __str__(self) -> str:
        return self.key


class ImprovementMetric(models.TextChoices):
    LEAD_TIME = "lead_time", "Lead time"
    CYCLE_TIME = "cycle_time", "Cycle time"
    THROUGHPUT = "throughput", "Throughput"
    FLOW_EFFICIENCY = "flow_efficiency", "Flow efficiency"
    BLOCKED_TIME = "blocked_time", "Blocked time"


class ImprovementStatus(models.TextChoices):
    DRAFT = "draft", "Draft"  # written down, not started: no baseline yet
    RUNNING = "running", "Running"  # started: the baseline is captured
    REVIEWED = "reviewed", "Reviewed"  # its review date came: the result is final


class Improvement(models.Model):
    """A kaizen experiment on a board's flow (boards/kaizen/): a change made on `started_at`,
    expected to move `target_metric`; the baseline is the board's metrics over the
    `baseline_weeks` weeks before the start, the result the weeks from the start to `review_on`
    with an XmR check of whether the change is beyond normal variation."""

    board = models.ForeignKey(Board, on_delete=models.CASCADE, related_name="improvements")
    title = models.CharField(max_length=200)
    hypothesis = models.TextField(blank=True, max_length=2000)
    target_metric = models.CharField(max_length=20, choices=ImprovementMetric.choices)
    baseline_weeks = models.PositiveSmallIntegerField(default=6)
    status = models.CharField(
        max_length=10, choices=ImprovementStatus.choices, default=ImprovementStatus.DRAFT
    )
    started_at = models.DateTimeField(null=True, blank=True)
    review_on = models.DateField()
    baseline = models.JSONField(null=True, blank=True)
    result = models.JSONField(null=True, blank=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    # The improvement's scope: the whole board (null), or only the cards of one class of
    # service (their current class), whose figures its baseline and review then count.
    scope_class_of_service = models.CharField(  # noqa: DJ001  # null is "no class": the board
        max_length=12, choices=ClassOfService.choices, null=True, blank=True
    )

    class Meta:
        ordering = ["board_id", "-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(target_metric__in=[m.value for m in ImprovementMetric]),
                name="improvement_metric_valid",
            ),
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in ImprovementStatus]),
                name="improvement_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(baseline_weeks__gte=2, baseline_weeks__lte=26),
                name="improvement_baseline_weeks_2_26",
            ),
            # Started means a baseline was captured; reviewed means a result was computed.
            models.CheckConstraint(
                condition=Q(status=ImprovementStatus.DRAFT)
                | Q(started_at__isnull=False, baseline__isnull=False),
                name="improvement_started_has_baseline",
            ),
            models.CheckConstraint(
                condition=~Q(status=ImprovementStatus.REVIEWED)
                | Q(result__isnull=False, reviewed_at__isnull=False),
                name="improvement_reviewed_has_result",
            ),
            models.CheckConstraint(
                condition=Q(scope_class_of_service__isnull=True)
                | Q(scope_class_of_service__in=[c.value for c in ClassOfService]),
                name="improvement_scope_class_valid",
            ),
        ]
        # The beat task's question: which running experiments are due for review?
        indexes = [models.Index(fields=["status", "review_on"], name="improvement_due")]

    def __str__(self) -> str:
        return self.title


# --- a card's history beyond its moves and comments --------------------------------------------


class ChangeKind(models.TextChoices):
    EDITED = "edited", "Edited"
    BLOCKED = "blocked", "Blocked"
    UNBLOCKED = "unblocked", "Unblocked"
    ARCHIVED = "archived", "Archived"
    RESTORED = "restored", "Restored"


class CardChange(models.Model):
    """One change to a card other than a move or a comment, written by the service that made
    it, in its transaction: an edit of one field (`field`, `old`, `new`: one row per field of
    the edit, all with the edit's version), a block (`new`: the reason), an unblock, an archive
    or a restore. `version` is the card's version the change made it, which is how a refused
    stale write says who changed what since the version it had (boards.selectors.history)."""

    card = models.ForeignKey(Card, on_delete=models.CASCADE, related_name="changes")
    board = models.ForeignKey(Board, on_delete=models.CASCADE, related_name="+")
    version = models.PositiveBigIntegerField()
    kind = models.CharField(max_length=10, choices=ChangeKind.choices)
    field = models.CharField(max_length=40, blank=True)
    old = models.JSONField(null=True, blank=True)
    new = models.JSONField(null=True, blank=True)
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )

    class Meta:
        ordering = ["at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=[k.value for k in ChangeKind]), name="cardchange_kind_valid"
            ),
            models.CheckConstraint(
                condition=~Q(kind=ChangeKind.EDITED) | ~Q(field=""),
                name="cardchange_edit_names_field",
            ),
        ]
        indexes = [
            models.Index(fields=["card", "at"]),
            models.Index(fields=["card", "version"]),
        ]

    def __str__(self) -> str:
        return f"{self.card_id} v{self.version} {self.kind} {self.field}"


class ServiceLevel(models.Model):
    """What a board promises for one class of service. Its service level expectation: 85 % of
    the class's work finishes within `sle_days` of its start (blank: the 85th percentile cycle
    time of the class's finished cards, boards.flow.service_levels). Its WIP limit: at most
    `wip_limit` cards of the class in progress (wait and active columns) at once, soft (an
    alert) or hard (refused unless an owner or admin overrides), as a column's."""

    board = models.ForeignKey(Board, on_delete=models.CASCADE, related_name="service_levels")
    class_of_service = models.CharField(max_length=12, choices=ClassOfService.choices)
    sle_days = models.FloatField(null=True, blank=True)
    wip_limit = models.PositiveSmallIntegerField(null=True, blank=True)
    wip_policy = models.CharField(max_length=4, choices=WipPolicy.choices, default=WipPolicy.SOFT)

    class Meta:
        ordering = ["board_id", "class_of_service"]
        constraints = [
            models.UniqueConstraint(
                fields=["board", "class_of_service"], name="service_level_one_per_class"
            ),
            models.CheckConstraint(
                condition=Q(class_of_service__in=[c.value for c in ClassOfService]),
                name="service_level_class_valid",
            ),
            models.CheckConstraint(
                condition=Q(sle_days__isnull=True) | Q(sle_days__gt=0),
                name="service_level_sle_positive",
            ),
            models.CheckConstraint(
                condition=Q(wip_limit__isnull=True) | Q(wip_limit__gte=1),
                name="service_level_wip_limit_positive",
            ),
            models.CheckConstraint(
                condition=Q(wip_policy__in=[p.value for p in WipPolicy]),
                name="service_level_wip_policy_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.board_id} {self.class_of_service}: {self.sle_days} d, WIP {self.wip_limit}"


# --- Waiting on other teams (boards/services/waits.py) ----------------------------------------


class WaitEnd(models.TextChoices):
    FINISHED = "finished", "The card waited on was finished"
    REMOVED = "removed", "Removed by hand"


class CardWait(models.Model):
    """A card waiting on another card of any board of the same organisation: a dependency.

    While open (`ended_at` null) the waiting card is blocked through the andon cord's own
    `Block` (so blocked time counts it); `block` is the block this wait put on the card (null
    when the card was blocked already, by hand or by another wait). It ends by hand or when
    the card waited on is finished, and the interval is the dependency wait the metrics count.
    `board` and `on_board` are the two cards' boards, kept so that the metrics and the
    overview read team-to-team waits without joining the cards."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    card = models.ForeignKey(Card, on_delete=models.CASCADE, related_name="waits")
    on_card = models.ForeignKey(Card, on_delete=models.CASCADE, related_name="waited_on_by")
    board = models.ForeignKey(Board, on_delete=models.CASCADE, related_name="+")
    on_board = models.ForeignKey(Board, on_delete=models.CASCADE, related_name="+")
    block = models.ForeignKey(
        Block, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    ended_reason = models.CharField(max_length=10, choices=WaitEnd.choices, blank=True)

    class Meta:
        ordering = ["started_at", "id"]
        constraints = [
            models.CheckConstraint(condition=~Q(card=F("on_card")), name="cardwait_not_self"),
            models.UniqueConstraint(
                fields=["card", "on_card"],
                condition=Q(ended_at__isnull=True),
                name="cardwait_one_open_per_pair",
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=F("started_at")),
                name="cardwait_ends_after_start",
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True, ended_reason="")
                | Q(ended_at__isnull=False, ended_reason__in=[r.value for r in WaitEnd]),
                name="cardwait_reason_iff_ended",
            ),
        ]
        indexes = [
            # "Does anyone wait on this card?", asked by every move (boards/services/moves.py)
            models.Index(
                fields=["on_card"], condition=Q(ended_at__isnull=True), name="cardwait_open_on"
            ),
            models.Index(fields=["board", "started_at"], name="cardwait_board"),
            models.Index(fields=["on_board", "started_at"], name="cardwait_on_board"),
            models.Index(fields=["organization", "ended_at"], name="cardwait_org"),
        ]

    def __str__(self) -> str:
        return f"{self.card_id} waits on {self.on_card_id}"
