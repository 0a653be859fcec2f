"""Read paths. Each builds plain dicts from a fixed number of queries, whatever the number of
cards: the board snapshot is read on every page load and by every resyncing viewer."""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import (
    Case,
    Count,
    Exists,
    ExpressionWrapper,
    FloatField,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership, Organization, Role, Team, TeamMembership, User
from accounts.selectors import Access
from boards.flow.metrics import DAY, percentile
from boards.live.events import actor_dict
from boards.models import (
    Board,
    Card,
    CardMove,
    Column,
    Comment,
    Event,
    ImportJob,
    Label,
    Swimlane,
)
from kanban import sql
from kanban.exceptions import InvalidInput, NotFound

CARD_FIELDS = (
    "id",
    "board_id",
    "column_id",
    "swimlane_id",
    "position",
    "title",
    "description",
    "description_html",
    "value",
    "customer",
    "class_of_service",
    "due_date",
    "blocked",
    "block_reason",
    "archived",
    "created_at",
    "updated_at",
    "committed_at",
    "started_at",
    "finished_at",
)


# --- access ----------------------------------------------------------------------------------


def _with_access(queryset: QuerySet, user: User, org_ref: str, team_ref: str) -> QuerySet:
    """Scope `queryset` to organisations the user belongs to, annotating their role and whether
    they are on the object's team. One query answers both "may I see it" and "may I change it"."""
    # order_by(): Membership's default ordering would join users and sort, for one row.
    membership = Membership.objects.filter(
        user_id=user.pk, organization_id=OuterRef(org_ref)
    ).order_by()
    return queryset.filter(Exists(membership)).annotate(
        access_role=membership.values("role")[:1],
        access_on_team=Exists(
            TeamMembership.objects.filter(team_id=OuterRef(team_ref), user_id=user.pk)
        ),
    )


def access_of(obj) -> Access:
    return Access(role=obj.access_role, on_team=obj.access_on_team)


def get_board_for_user(user: User, board_id: int) -> Board:
    """The board if the user's organisation owns it, else NotFound (never 403: a foreign board
    does not exist for this user). The result carries `access_role` and `access_on_team`."""
    if not user.is_authenticated:
        raise NotFound("Board not found.")
    board = (
        _with_access(Board.objects.all(), user, "organization_id", "team_id")
        .select_related("team", "organization")
        .filter(pk=board_id)
        .first()
    )
    if board is None:
        raise NotFound("Board not found.")
    return board


def get_card_for_user(user: User, card_id: int) -> Card:
    card = (
        _with_access(Card.objects.all(), user, "board__organization_id", "board__team_id")
        .select_related("board", "column", "swimlane")
        .filter(pk=card_id)
        .first()
    )
    if card is None:
        raise NotFound("Card not found.")
    return card


def get_column_for_user(user: User, column_id: int) -> Column:
    column = (
        _with_access(Column.objects.all(), user, "board__organization_id", "board__team_id")
        .select_related("board")
        .filter(pk=column_id)
        .first()
    )
    if column is None:
        raise NotFound("Column not found.")
    return column


def get_swimlane_for_user(user: User, swimlane_id: int) -> Swimlane:
    swimlane = (
        _with_access(Swimlane.objects.all(), user, "board__organization_id", "board__team_id")
        .select_related("board")
        .filter(pk=swimlane_id)
        .first()
    )
    if swimlane is None:
        raise NotFound("Swimlane not found.")
    return swimlane


def boards_for_user(
    user: User, *, org_slug: str | None = None, team_id: int | None = None
) -> QuerySet[Board]:
    boards = (
        _with_access(Board.objects.all(), user, "organization_id", "team_id")
        .select_related("team", "organization")
        .annotate(
            card_count=Count("cards", filter=Q(cards__archived=False)),
        )
        .order_by("organization__name", "name", "id")
    )
    if org_slug:
        boards = boards.filter(organization__slug=org_slug)
    if team_id:
        boards = boards.filter(team_id=team_id)
    return boards


# --- plain dicts -----------------------------------------------------------------------------


def age_days(row: dict[str, Any], now: datetime) -> float:
    """Days since the card was committed to (created, if still in the backlog); a finished card's
    age stops at its finish."""
    start = row["committed_at"] or row["created_at"]
    end = row["finished_at"] or now
    return round(max((end - start).total_seconds(), 0) / DAY, 2)


def card_dict(
    row: dict[str, Any], assignees: Sequence[int], labels: Sequence[int], now: datetime
) -> dict[str, Any]:
    return {
        "id": row["id"],
        "board": row["board_id"],
        "column": row["column_id"],
        "swimlane": row["swimlane_id"],
        "position": row["position"],
        "title": row["title"],
        "description": row["description"],
        "description_html": row["description_html"],
        "assignees": list(assignees),
        "labels": list(labels),
        "value": row["value"],
        "customer": row["customer"],
        "class_of_service": row["class_of_service"],
        "due_date": row["due_date"].isoformat() if row["due_date"] else None,
        "blocked": row["blocked"],
        "block_reason": row["block_reason"],
        "archived": row["archived"],
        "created_at": row["created_at"].isoformat(),
        "updated_at": row["updated_at"].isoformat(),
        "committed_at": _iso(row["committed_at"]),
        "started_at": _iso(row["started_at"]),
        "finished_at": _iso(row["finished_at"]),
        "age_days": age_days(row, now),
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _relations(card_filter: Q) -> tuple[dict[int, list[int]], dict[int, list[int]]]:
    """Assignee and label ids per card, two queries over the through tables."""
    assignees: dict[int, list[int]] = defaultdict(list)
    for card_id, user_id in (
        Card.assignees.through.objects.filter(card_filter)
        .order_by("card_id", "user_id")
        .values_list("card_id", "user_id")
    ):
        assignees[card_id].append(user_id)
    labels: dict[int, list[int]] = defaultdict(list)
    for card_id, label_id in (
        Card.labels.through.objects.filter(card_filter)
        .order_by("card_id", "label_id")
        .values_list("card_id", "label_id")
    ):
        labels[card_id].append(label_id)
    return assignees, labels


def cards_as_dicts(cards: QuerySet[Card] | Iterable[int]) -> list[dict[str, Any]]:
    """Cards (a queryset, or ids) as API dicts, in the queryset's order: three queries."""
    if not isinstance(cards, QuerySet):
        cards = Card.objects.filter(pk__in=list(cards))
    rows = list(cards.values(*CARD_FIELDS))
    if not rows:
        return []
    ids = [row["id"] for row in rows]
    assignees, labels = _relations(Q(card_id__in=ids))
    now = timezone.now()
    return [card_dict(row, assignees[row["id"]], labels[row["id"]], now) for row in rows]


def relation_ids_sql(card: str) -> str:
    """Two columns: the assignee ids and the label ids of the card whose id is the SQL `card`,
    each aggregated into one string (read back with kanban.sql.ids)."""
    assignees, labels = Card.assignees.through._meta.db_table, Card.labels.through._meta.db_table
    return (
        f"(SELECT {sql.id_list('user_id')} FROM {assignees} WHERE card_id = {card}), "
        f"(SELECT {sql.id_list('label_id')} FROM {labels} WHERE card_id = {card})"
    )


def card_as_dict(card_id: int) -> dict[str, Any]:
    """One card, for the answers of card writes and reads: one plain statement (kanban/sql.py)."""
    row = sql.fetch_one(
        f"SELECT {sql.columns(Card, CARD_FIELDS, alias='c')}, {relation_ids_sql('c.id')} "
        f"FROM {Card._meta.db_table} c WHERE c.id = %s",
        [card_id],
    )
    if row is None:
        raise NotFound("Card not found.")
    n = len(CARD_FIELDS)
    card = sql.instance(Card, CARD_FIELDS, row[:n])
    return card_dict_of(card, sql.ids(row[n]), sql.ids(row[n + 1]))


def card_dict_of(card: Card, assignees: Iterable[int], labels: Iterable[int]) -> dict[str, Any]:
    """A card read with CARD_FIELDS, and its assignee and label ids, as an API dict."""
    row = {field: getattr(card, field) for field in CARD_FIELDS}
    return card_dict(row, list(assignees), list(labels), timezone.now())


def user_dict(user: User) -> dict[str, Any]:
    return {
        "id": user.pk,
        "username": user.username,
        "name": user.display_name,
        "initials": user.initials,
    }


def board_summary(board: Board) -> dict[str, Any]:
    return {
        "id": board.pk,
        "organization": board.organization.slug,
        "team": board.team_id,
        "team_name": board.team.name,
        "name": board.name,
        "description": board.description,
        "seq": board.last_seq,
        "created_at": board.created_at.isoformat(),
        "updated_at": board.updated_at.isoformat(),
    }


def column_dict(column: Column, wip: int) -> dict[str, Any]:
    return {
        "id": column.pk,
        "board": column.board_id,
        "name": column.name,
        "stage": column.stage,
        "position": column.position,
        "wip": wip,
        "wip_limit": column.wip_limit,
        "wip_policy": column.wip_policy,
        "policy": column.policy,
    }


def column_as_dict(column: Column) -> dict[str, Any]:
    wip = Card.objects.filter(column=column, archived=False).count()
    return column_dict(column, wip)


def swimlane_dict(swimlane: Swimlane) -> dict[str, Any]:
    return {
        "id": swimlane.pk,
        "board": swimlane.board_id,
        "name": swimlane.name,
        "position": swimlane.position,
        "wip_limit": swimlane.wip_limit,
    }


def label_dict(label: Label) -> dict[str, Any]:
    return {"id": label.pk, "board": label.board_id, "name": label.name, "color": label.color}


def board_snapshot(board: Board) -> dict[str, Any]:
    """The whole board (columns with WIP, swimlanes, labels, people, live cards) and its `seq`.

    Eight queries whatever the number of cards. Under READ COMMITTED a move may commit between
    these reads, so `seq` is read first: a client that applies the events after it converges,
    since applying a move the snapshot already shows changes nothing.
    """
    seq = Board.objects.filter(pk=board.pk).values_list("last_seq", flat=True).get()
    columns = list(
        Column.objects.filter(board=board)
        .annotate(wip_count=Count("cards", filter=Q(cards__archived=False)))
        .order_by("position", "id")
    )
    swimlanes = list(Swimlane.objects.filter(board=board).order_by("position", "id"))
    labels = list(Label.objects.filter(board=board).order_by("name"))
    card_rows = list(
        Card.objects.filter(board=board, archived=False)
        .order_by("column_id", "swimlane_id", "position")
        .values(*CARD_FIELDS)
    )
    assignees, card_labels = _relations(Q(card__board_id=board.pk, card__archived=False))
    people = User.objects.filter(
        Q(teams__id=board.team_id) | Q(assigned_cards__board_id=board.pk)
    ).distinct()
    now = timezone.now()
    summary = board_summary(board)
    summary["seq"] = seq
    summary.update(
        columns=[column_dict(c, c.wip_count) for c in columns],
        swimlanes=[swimlane_dict(s) for s in swimlanes],
        labels=[label_dict(label) for label in labels],
        people=[user_dict(u) for u in people.order_by("username")],
        cards=[
            card_dict(row, assignees[row["id"]], card_labels[row["id"]], now) for row in card_rows
        ],
    )
    return summary


# --- card search and history -----------------------------------------------------------------


def search_cards(
    user: User,
    *,
    org: str | None = None,
    board: int | None = None,
    column: int | None = None,
    assignee: int | None = None,
    label: int | None = None,
    blocked: bool | None = None,
    q: str | None = None,
    include_archived: bool = False,
) -> QuerySet[Card]:
    """Cards of the user's organisations matching every given filter (`org`: one of them, by
    slug). With `q`, best matches first (see text_search_postgres)."""
    cards = Card.objects.filter(
        Exists(
            Membership.objects.filter(
                user_id=user.pk, organization_id=OuterRef("board__organization_id")
            )
        )
    )
    if not include_archived:
        cards = cards.filter(archived=False)
    if org is not None:
        cards = cards.filter(board__organization__slug=org)
    if board is not None:
        cards = cards.filter(board_id=board)
    if column is not None:
        cards = cards.filter(column_id=column)
    if assignee is not None:
        cards = cards.filter(
            Exists(Card.assignees.through.objects.filter(card_id=OuterRef("pk"), user_id=assignee))
        )
    if label is not None:
        cards = cards.filter(
            Exists(Card.labels.through.objects.filter(card_id=OuterRef("pk"), label_id=label))
        )
    if blocked is not None:
        cards = cards.filter(blocked=blocked)
    order = ("board_id", "column__position", "swimlane__position", "position", "id")
    if q:
        cards = _text_search(cards, q)
        order = ("-search_rank", *order)
    return cards.order_by(*order)


def _text_search(cards: QuerySet[Card], q: str) -> QuerySet[Card]:
    if connection.vendor == "postgresql":
        return text_search_postgres(cards, q)
    return text_search_fallback(cards, q)


def card_search_vector():
    """A card's search document: its title (weight A) and description (weight B).

    The GIN index card_search_gin (migration 0004) is built on exactly this expression, and so
    is comment_search_gin on comment_search_vector(): change one, change the other."""
    from django.contrib.postgres.search import SearchVector

    return SearchVector("title", weight="A", config="english") + SearchVector(
        "description", weight="B", config="english"
    )


def comment_search_vector():
    from django.contrib.postgres.search import SearchVector

    return SearchVector("body", config="english")


def text_search_postgres(cards: QuerySet[Card], q: str) -> QuerySet[Card]:
    """Cards whose title or description, or one of whose comments, matches `q` in Postgres
    full-text search (websearch syntax: words, "a phrase", or, -word), plus titles containing
    `q` as typed (a part of a word, a ticket number). Annotated with `search_rank`: matches in
    the title weigh more than in the description; a match in comments only ranks 0.

    The matching ids come from the two GIN indexes (uncorrelated subqueries, computed once),
    not from a to_tsvector per card."""
    from django.contrib.postgres.search import SearchQuery, SearchRank

    query = SearchQuery(q, search_type="websearch", config="english")
    vector = card_search_vector()
    by_card = Card.objects.annotate(v=vector).filter(v=query).order_by().values("pk")
    by_comment = (
        Comment.objects.annotate(v=comment_search_vector())
        .filter(v=query)
        .order_by()
        .values("card_id")
    )
    matches = Q(pk__in=by_card) | Q(pk__in=by_comment) | Q(title__icontains=q)
    return cards.filter(matches).annotate(search_rank=SearchRank(vector, query))


def text_search_fallback(cards: QuerySet[Card], q: str) -> QuerySet[Card]:
    """The search of the embedded default (SQLite has no full-text search): every word of `q`
    in the title, description or a comment, ignoring case. Annotated with `search_rank`: two
    points a word found in the title, one a word found in the description."""
    words = [w for w in (part.strip('"').lstrip("-") for part in q.split()) if w] or [q]
    rank = Value(0.0)
    for word in words:
        in_comment = Exists(Comment.objects.filter(card_id=OuterRef("pk"), body__icontains=word))
        cards = cards.filter(Q(title__icontains=word) | Q(description__icontains=word) | in_comment)
        rank = (
            rank
            + Case(When(title__icontains=word, then=Value(2.0)), default=Value(0.0))
            + Case(When(description__icontains=word, then=Value(1.0)), default=Value(0.0))
        )
    return cards.annotate(search_rank=ExpressionWrapper(rank, output_field=FloatField()))


def card_moves(card: Card) -> QuerySet[CardMove]:
    return (
        CardMove.objects.filter(card=card)
        .select_related("from_column", "to_column", "actor")
        .order_by("at", "id")
    )


def move_dict(m: CardMove) -> dict[str, Any]:
    return {
        "id": m.pk,
        "from_column": m.from_column_id,
        "from_column_name": m.from_column.name if m.from_column else None,
        "to_column": m.to_column_id,
        "to_column_name": m.to_column.name if m.to_column else None,
        "from_swimlane": m.from_swimlane_id,
        "to_swimlane": m.to_swimlane_id,
        "from_stage": m.from_stage or None,
        "to_stage": m.to_stage,
        "position": m.position,
        "at": m.at.isoformat(),
        "actor": user_dict(m.actor) if m.actor else None,
        "override_reason": m.override_reason,
    }


def board_seq(board_id: int) -> int:
    row = sql.fetch_one(f"SELECT last_seq FROM {Board._meta.db_table} WHERE id = %s", [board_id])
    if row is None:
        raise NotFound("Board not found.")
    return row[0]


# A viewer further behind than this gets the whole board instead of the events it missed.
REPLAY_LIMIT = 500


def board_replay(board_id: int, since: int) -> list[dict[str, Any]]:
    """What a viewer that has applied every event up to `since` needs to catch up: the events
    after it in order, or one `snapshot` of the whole board when that is shorter or the log no
    longer holds them."""
    from boards.live.events import actor_dict, event_payload, events_since

    last = board_seq(board_id)
    if since == last:
        return []
    first_kept = (
        Event.objects.filter(board_id=board_id)
        .order_by("seq")
        .values_list("seq", flat=True)
        .first()
    )
    if since > last or last - since > REPLAY_LIMIT or (first_kept or 1) > since + 1:
        board = Board.objects.select_related("team", "organization").get(pk=board_id)
        snapshot = board_snapshot(board)
        return [{"type": "snapshot", "board": board_id, "seq": snapshot["seq"], "data": snapshot}]
    return [event_payload(e, actor_dict(e.actor)) for e in events_since(board_id, since)]


def card_comments(card: Card) -> QuerySet[Comment]:
    return Comment.objects.filter(card=card).select_related("author").order_by("created_at", "id")


def comment_dict(comment: Comment) -> dict[str, Any]:
    return {
        "id": comment.pk,
        "card": comment.card_id,
        "author": user_dict(comment.author) if comment.author else None,
        "body": comment.body,
        "body_html": comment.body_html,
        "created_at": comment.created_at.isoformat(),
    }


# --- ids in request bodies -------------------------------------------------------------------
# DRF applies no object permission to ids inside a body: every id is looked up within the board
# (or its organisation), and an id from elsewhere reads exactly like one that does not exist.


def not_on_board(field: str, object_id: int) -> InvalidInput:
    """The error for an id in a body that names nothing on the board (`field`: column...)."""
    return InvalidInput(
        f"There is no {field} {object_id} on this board.",
        fields={field: [f"No {field} {object_id} on this board."]},
    )


def resolve_column(board: Board, column_id: int) -> Column:
    column = Column.objects.filter(pk=column_id, board_id=board.pk).first()
    if column is None:
        raise not_on_board("column", column_id)
    return column


def resolve_swimlane(board: Board, swimlane_id: int | None) -> Swimlane | None:
    if swimlane_id is None:
        return None
    swimlane = Swimlane.objects.filter(pk=swimlane_id, board_id=board.pk).first()
    if swimlane is None:
        raise not_on_board("swimlane", swimlane_id)
    return swimlane


def resolve_assignees(board: Board, user_ids: Sequence[int]) -> list[User]:
    ids = set(user_ids)
    users = list(
        User.objects.filter(pk__in=ids, memberships__organization_id=board.organization_id)
    )
    missing = ids - {u.pk for u in users}
    if missing:
        raise InvalidInput(
            "Assignees must be members of the board's organisation.",
            fields={"assignees": [f"Unknown user ids: {sorted(missing)}"]},
        )
    return users


def resolve_labels(board: Board, label_ids: Sequence[int]) -> list[Label]:
    ids = set(label_ids)
    labels = list(Label.objects.filter(pk__in=ids, board_id=board.pk))
    missing = ids - {label.pk for label in labels}
    if missing:
        raise InvalidInput(
            "Labels must belong to the card's board.",
            fields={"labels": [f"Unknown label ids: {sorted(missing)}"]},
        )
    return labels


def resolve_team(organization_id: int, team_id: int):
    from accounts.models import Team

    team = Team.objects.filter(pk=team_id, organization_id=organization_id).first()
    if team is None:
        raise InvalidInput(
            f"There is no team {team_id} in this organisation.",
            fields={"team": [f"No team {team_id} in this organisation."]},
        )
    return team


# --- import jobs -----------------------------------------------------------------------------


def _import_jobs() -> QuerySet[ImportJob]:
    # Never the export: a job's file is up to 20 MB, and its progress is read every second.
    return ImportJob.objects.defer("export").select_related("organization", "team", "created_by")


def get_import_job_for_user(user: User, job_id: int) -> ImportJob:
    """The job if it belongs to one of the user's organisations (every member reads them all,
    as they read every board), else NotFound."""
    if not user.is_authenticated:
        raise NotFound("Import not found.")
    member = Membership.objects.filter(user_id=user.pk, organization_id=OuterRef("organization_id"))
    job = _import_jobs().filter(Exists(member.order_by()), pk=job_id).first()
    if job is None:
        raise NotFound("Import not found.")
    return job


def import_jobs_of_organization(organization: Organization) -> QuerySet[ImportJob]:
    """The organisation's import jobs, newest first (the caller checked membership)."""
    return _import_jobs().filter(organization=organization).order_by("-created_at", "-id")


def teams_for_new_board(user: User, organization: Organization, access: Access) -> QuerySet[Team]:
    """The teams of the organisation that the user may create a board for (the import page's
    choice): every team for an owner or admin, their own teams for a member, none for a
    viewer. create_board checks the same rule (ensure_can_write)."""
    teams = Team.objects.filter(organization=organization).order_by("name", "id")
    if access.is_manager:
        return teams
    if access.role != Role.MEMBER:
        return teams.none()
    return teams.filter(team_memberships__user_id=user.pk)


def may_create_boards(user: User, organization: Organization, access: Access) -> bool:
    """Whether teams_for_new_board has a team (no query for an owner or admin)."""
    return access.is_manager or teams_for_new_board(user, organization, access).exists()


def import_job_dict(job: ImportJob) -> dict[str, Any]:
    return {
        "id": job.pk,
        "url": reverse("api-import", args=[job.pk]),
        "page": reverse("org-import-job", args=[job.organization.slug, job.pk]),
        "organization": job.organization.slug,
        "team": job.team_id,
        "team_name": job.team.name,
        "name": job.name,
        "status": job.status,
        "progress": {"done": job.done, "total": job.total},
        "board": job.board_id,
        "board_url": reverse("board", args=[job.board_id]) if job.board_id else None,
        "counts": job.counts or None,
        "error": job.error or None,
        "created_by": actor_dict(job.created_by),
        "created_at": job.created_at.isoformat(),
        "started_at": _iso(job.started_at),
        "finished_at": _iso(job.finished_at),
    }


# --- ageing ----------------------------------------------------------------------------------

TYPICAL_CYCLE_TIME_PERCENTILE = 0.85


def typical_cycle_time_days(board_id: int) -> float | None:
    """The board's typical cycle time: the 85th percentile of (finished_at - started_at), in
    days, over its finished live cards; None while no card has finished. One query.

    The board page marks work in progress older than this as ageing: most work of this board
    finishes faster, so such a card deserves a look at the stand-up. Percentiles interpolate
    linearly (Postgres percentile_cont, numpy's default), as every metric of the design does.
    """
    finished = Card.objects.filter(
        board_id=board_id, archived=False, finished_at__isnull=False, started_at__isnull=False
    )
    if connection.vendor == "postgresql":
        table = Card._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT percentile_cont(%s) WITHIN GROUP "
                "(ORDER BY EXTRACT(EPOCH FROM finished_at - started_at)) "
                f"FROM {table} WHERE board_id = %s AND NOT archived "
                "AND finished_at IS NOT NULL AND started_at IS NOT NULL",
                [TYPICAL_CYCLE_TIME_PERCENTILE, board_id],
            )
            seconds = cursor.fetchone()[0]
        return None if seconds is None else float(seconds) / DAY
    durations = [
        (finished_at - started_at).total_seconds()
        for started_at, finished_at in finished.values_list("started_at", "finished_at")
    ]
    seconds = percentile(durations, TYPICAL_CYCLE_TIME_PERCENTILE)
    return None if seconds is None else seconds / DAY


def board_alerts(board: Board, state: str = "open"):
    from boards.models import Alert

    alerts = Alert.objects.filter(board=board)
    if state == "open":
        alerts = alerts.filter(closed_at__isnull=True)
    elif state == "closed":
        alerts = alerts.filter(closed_at__isnull=False)
    return alerts.order_by("-opened_at", "-id")
