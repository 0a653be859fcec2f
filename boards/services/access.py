"""Who may change a board: the check every service makes before it writes."""

from accounts.models import User
from accounts.selectors import Access, board_access
from boards.models import (
    Board,
)
from kanban.exceptions import Forbidden, NotFound

# --- access ----------------------------------------------------------------------------------


def ensure_can_write(actor: User, board: Board) -> Access:
    access = board_access(actor, organization_id=board.organization_id, team_id=board.team_id)
    if not access.can_read:
        raise NotFound("Board not found.")
    if not access.can_write:
        if access.role == "viewer":
            raise Forbidden("Viewers have read-only access to boards.")
        raise Forbidden(
            "Only members of the board's team, or an owner or admin of the organisation, "
            "can change this board."
        )
    return access


def ensure_manager(actor: User, board: Board) -> Access:
    access = ensure_can_write(actor, board)
    if not access.is_manager:
        raise Forbidden("Only an owner or admin of the organisation can do this.")
    return access
