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

from accounts.models import Membership, Team, TeamMembership, User
from accounts.selectors import Access
from boards.models import (
    Board,
    Card,
    Column,
    Label,
    Swimlane,
)
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
