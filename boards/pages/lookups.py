"""What every page's first line asks: the board or organisation of the URL, for this user, or
the 404 page. The selectors raise NotFound (the API's 404) for anything foreign or missing;
a page answers Django's Http404 instead, so the branded 404 page shows."""

from django.http import Http404

from accounts.authentication import AuthedHttpRequest
from accounts.selectors import get_organization_for_user
from boards.models import Board
from boards.selectors import get_board_for_user
from kanban.exceptions import NotFound


def board_or_404(request: AuthedHttpRequest, board_id: int) -> Board:
    try:
        return get_board_for_user(request.user, board_id)
    except NotFound as exc:
        raise Http404("Board not found") from exc


def org_or_404(request: AuthedHttpRequest, slug: str):
    """The organisation and the user's membership of it (get_organization_for_user's pair)."""
    try:
        return get_organization_for_user(request.user, slug)
    except NotFound as exc:
        raise Http404("Organisation not found") from exc
