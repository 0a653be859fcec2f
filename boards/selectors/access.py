"""Who may read what: every read of a board, column, swimlane or card by id goes through
here, scoped to the user's organisations (another organisation's object is not found), and
ids inside request bodies are resolved within their board."""

from collections.abc import Sequence
from typing import TypeVar

from django.db.models import (
    Count,
    Exists,
    OuterRef,
    Q,
    QuerySet,
)

from accounts.models import Membership, Organization, Team, TeamMembership, User
from accounts.selectors import Access
from boards.models import (
    Board,
    Card,
    Column,
    Label,
    Swimlane,
)
from kanban import sql
from kanban.exceptions import InvalidInput, NotFound

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


_BOARD_FIELDS = tuple(f.attname for f in Board._meta.concrete_fields)
_TEAM_FIELDS = tuple(f.attname for f in Team._meta.concrete_fields)
_ORG_FIELDS = tuple(f.attname for f in Organization._meta.concrete_fields)
# Every read of a board asks this first: one plain statement (kanban/sql.py) for the board, its
# team and organisation, and the reader's role and place on the team. Through the ORM (the
# annotations of _with_access, two select_related) it cost ~1.6 ms of Python, ~0.2 ms of
# database: a sixth of reading a 500-card board. The rule is _with_access's: a member of the
# board's organisation sees it, with their role and whether they are on its team.
_BOARD_ACCESS_SQL = f"""
    SELECT {sql.columns(Board, _BOARD_FIELDS, alias="b")},
        {sql.columns(Team, _TEAM_FIELDS, alias="t")},
        {sql.columns(Organization, _ORG_FIELDS, alias="o")}, m.role,
        EXISTS (SELECT 1 FROM {TeamMembership._meta.db_table} tm
                WHERE tm.team_id = b.team_id AND tm.user_id = %(user)s)
    FROM {Board._meta.db_table} b
    JOIN {Team._meta.db_table} t ON t.id = b.team_id
    JOIN {Organization._meta.db_table} o ON o.id = b.organization_id
    JOIN {Membership._meta.db_table} m ON m.organization_id = b.organization_id
        AND m.user_id = %(user)s
    WHERE b.id = %(board)s
"""


def get_board_for_user(user: User, board_id: int) -> Board:
    """The board if the user's organisation owns it, else NotFound (never 403: a foreign board
    does not exist for this user). The result carries `access_role` and `access_on_team`, and
    its team and organisation."""
    if not user.is_authenticated:
        raise NotFound("Board not found.")
    row = sql.fetch_one(_BOARD_ACCESS_SQL, {"user": user.pk, "board": board_id})
    if row is None:
        raise NotFound("Board not found.")
    b, t = len(_BOARD_FIELDS), len(_BOARD_FIELDS) + len(_TEAM_FIELDS)
    o = t + len(_ORG_FIELDS)
    board = sql.instance(Board, _BOARD_FIELDS, row[:b])
    board.team = sql.instance(Team, _TEAM_FIELDS, row[b:t])
    board.organization = sql.instance(Organization, _ORG_FIELDS, row[t:o])
    board.access_role, board.access_on_team = row[o], bool(row[o + 1])  # type: ignore[attr-defined]
    return board


_OnBoard = TypeVar("_OnBoard", Card, Column, Swimlane)


def _get_on_board_for_user(
    model: type[_OnBoard], user: User, pk: int, related: tuple[str, ...], missing: str
) -> _OnBoard:
    """One object of a board, scoped like its board (with `access_role`, `access_on_team`)."""
    found = (
        _with_access(model._default_manager.all(), user, "board__organization_id", "board__team_id")
        .select_related(*related)
        .filter(pk=pk)
        .first()
    )
    if found is None:
        raise NotFound(missing)
    return found


def get_card_for_user(user: User, card_id: int) -> Card:
    return _get_on_board_for_user(
        Card, user, card_id, ("board", "column", "swimlane"), "Card not found."
    )


def get_column_for_user(user: User, column_id: int) -> Column:
    return _get_on_board_for_user(Column, user, column_id, ("board",), "Column not found.")


def get_swimlane_for_user(user: User, swimlane_id: int) -> Swimlane:
    return _get_on_board_for_user(Swimlane, user, swimlane_id, ("board",), "Swimlane not found.")


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

    team = Team.objects.filter(pk=team_id, organization_id=organization_id).first()
    if team is None:
        raise InvalidInput(
            f"There is no team {team_id} in this organisation.",
            fields={"team": [f"No team {team_id} in this organisation."]},
        )
    return team
