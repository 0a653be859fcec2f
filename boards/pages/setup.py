"""Setting Obeya up in the browser: a new board (for a team, from a template), a board's
settings (columns, swimlanes, labels) and the organisation's people and teams.

Plain forms, no script needed. Each POST names its `action`; the view checks the form's shape
(boards.pages.forms), calls one service, and redirects back with a message (post/redirect/get).
What a service refuses comes back as the same page with its sentence and its status (400, 403,
409), and nothing changed: the service raised before it wrote, inside its transaction. Another
organisation's board or slug answers 404, as every page does."""

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from accounts import selectors as accounts_selectors
from accounts import services as accounts_services
from accounts.authentication import AuthedHttpRequest
from accounts.models import InvitationStatus, Role
from boards import selectors, services
from boards.flow import service_levels
from boards.models import Board, ClassOfService, Column, Label, Stage, Swimlane, WipPolicy
from boards.pages.forms import (
    ColumnForm,
    InvitationForm,
    LabelForm,
    MemberForm,
    NewBoardForm,
    ReleaseForm,
    ServiceLevelForm,
    SwimlaneForm,
    TeamForm,
    first_error,
)
from boards.pages.lookups import board_or_404, org_or_404
from kanban.exceptions import DomainError, InvalidInput

Action = Callable[[AuthedHttpRequest, Any], str]


def _valid(form) -> dict[str, Any]:
    if not form.is_valid():
        raise InvalidInput(first_error(form))
    return form.cleaned_data


def _posted_id(request: AuthedHttpRequest, name: str) -> int:
    value = request.POST.get(name, "")
    if not (value.isascii() and value.isdigit()):
        raise InvalidInput(f"Which {name}? The form did not say.")
    return int(value)


def _run(
    request: AuthedHttpRequest, actions: dict[str, Action], target: Any
) -> tuple[str | None, int]:
    """Run the POST's action: (the success message, 200), or (None, the refusal's status)
    with the refusal's sentence as an error message."""
    action = actions.get(request.POST.get("action", ""))
    try:
        if action is None:
            raise InvalidInput("Unknown action: reload the page and try again.")
        return action(request, target), 200
    except DomainError as exc:
        messages.error(request, exc.detail)
        return None, exc.status


# --- a new board -----------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def new_board_page(request: AuthedHttpRequest, slug: str) -> HttpResponse:
    """Create a board for one of the teams the user may create boards for (every team for an
    owner or admin, their own for a member; 403 for the others), from a template."""
    organization, access = org_or_404(request, slug)
    teams = list(selectors.teams_for_new_board(request.user, organization, access))
    form = NewBoardForm(initial={"template": "default"})
    status = 200 if teams else 403
    if teams and request.method == "POST":
        form = NewBoardForm(request.POST)
        try:
            data = _valid(form)
            team = next((t for t in teams if t.pk == data["team"]), None)
            if team is None:
                raise InvalidInput("Choose the team that will own the new board.")
            board = services.create_board_from_template(
                team=team,
                name=data["name"].strip(),
                template=data["template"],
                description=data["description"],
                actor=request.user,
            )
        except DomainError as exc:
            messages.error(request, exc.detail)
            status = exc.status
        else:
            messages.success(request, f"{board.name} is ready: add its first cards.")
            return redirect("board", board_id=board.pk)
    chosen_team = form["team"].value() or (str(teams[0].pk) if len(teams) == 1 else "")
    return render(
        request,
        "boards/org_new_board.html",
        {
            "organization": organization,
            "role": access.role,
            "tab": "new-board",
            "teams": teams,
            "form": form,
            "chosen_team": str(chosen_team),
            "chosen_template": form["template"].value() or "default",
            "templates": [
                {"key": key, **spec, "column_names": [c["name"] for c in spec["columns"]]}
                for key, spec in services.BOARD_TEMPLATES.items()
            ],
        },
        status=status,
    )


# --- a board's settings ----------------------------------------------------------------------


def _column_fields(request: AuthedHttpRequest) -> dict[str, Any]:
    data = _valid(ColumnForm(request.POST))
    return {
        "name": data["name"].strip(),
        "stage": data["stage"],
        "wip_limit": data["wip_limit"],
        "wip_policy": data["wip_policy"],
        "policy": data["policy"].strip(),
    }


def _moved_position(request: AuthedHttpRequest, current: int) -> int:
    """Where a reordered column or lane goes: ?position= (0-based, from the drag-and-drop
    script), or one step earlier or later (the buttons)."""
    if request.POST.get("position", "") != "":
        return _posted_id(request, "position")
    step = {"earlier": -1, "later": 1}.get(request.POST.get("direction", ""))
    if step is None:
        raise InvalidInput("Move it earlier or later.")
    return max(current + step, 0)


def _column_add(request: AuthedHttpRequest, board: Board) -> str:
    column = services.create_column(board, **_column_fields(request), actor=request.user)
    return f"Column {column.name} added."


def _column_save(request: AuthedHttpRequest, board: Board) -> str:
    column = selectors.resolve_column(board, _posted_id(request, "column"))
    column = services.update_column(column, **_column_fields(request), actor=request.user)
    return f"Column {column.name} saved."


def _column_move(request: AuthedHttpRequest, board: Board) -> str:
    column = selectors.resolve_column(board, _posted_id(request, "column"))
    position = _moved_position(request, column.position)
    services.update_column(column, position=position, actor=request.user)
    return f"Column {column.name} moved."


def _column_delete(request: AuthedHttpRequest, board: Board) -> str:
    column = selectors.resolve_column(board, _posted_id(request, "column"))
    services.delete_column(column, actor=request.user)
    return f"Column {column.name} deleted."


def _lane(request: AuthedHttpRequest, board: Board) -> Swimlane:
    lane = selectors.resolve_swimlane(board, _posted_id(request, "swimlane"))
    assert lane is not None
    return lane


def _lane_add(request: AuthedHttpRequest, board: Board) -> str:
    name = _valid(SwimlaneForm(request.POST))["name"].strip()
    lane = services.create_swimlane(board, name=name, actor=request.user)
    return f"Swimlane {lane.name} added."


def _lane_save(request: AuthedHttpRequest, board: Board) -> str:
    lane = _lane(request, board)
    name = _valid(SwimlaneForm(request.POST))["name"].strip()
    lane = services.update_swimlane(lane, name=name, actor=request.user)
    return f"Swimlane {lane.name} saved."


def _lane_move(request: AuthedHttpRequest, board: Board) -> str:
    lane = _lane(request, board)
    position = _moved_position(request, lane.position)
    services.update_swimlane(lane, position=position, actor=request.user)
    return f"Swimlane {lane.name} moved."


def _lane_delete(request: AuthedHttpRequest, board: Board) -> str:
    lane = _lane(request, board)
    services.delete_swimlane(lane, actor=request.user)
    return f"Swimlane {lane.name} deleted."


def _label(request: AuthedHttpRequest, board: Board) -> Label:
    return selectors.resolve_labels(board, [_posted_id(request, "label")])[0]


def _label_add(request: AuthedHttpRequest, board: Board) -> str:
    data = _valid(LabelForm(request.POST))
    label = services.create_label(
        board, name=data["name"].strip(), color=data["color"].lower(), actor=request.user
    )
    return f"Label {label.name} added."


def _label_save(request: AuthedHttpRequest, board: Board) -> str:
    label = _label(request, board)
    data = _valid(LabelForm(request.POST))
    label = services.update_label(
        label, name=data["name"].strip(), color=data["color"].lower(), actor=request.user
    )
    return f"Label {label.name} saved."


def _label_delete(request: AuthedHttpRequest, board: Board) -> str:
    label = _label(request, board)
    services.delete_label(label, actor=request.user)
    return f"Label {label.name} deleted."


def _release_save(request: AuthedHttpRequest, board: Board) -> str:
    days = _valid(ReleaseForm(request.POST))["release_done_after_days"]
    services.update_board(board, release_done_after_days=days, actor=request.user)
    if days is None:
        return "Finished cards stay on the board until someone archives them."
    return f"Cards finished more than {days} day{'s' if days != 1 else ''} ago will be archived."


def _service_save(request: AuthedHttpRequest, board: Board) -> str:
    data = _valid(ServiceLevelForm(request.POST))
    services.set_service_level(
        board,
        class_of_service=data["class_of_service"],
        sle_days=data["sle_days"],
        wip_limit=data["wip_limit"],
        wip_policy=data["wip_policy"],
        actor=request.user,
    )
    return f"{ClassOfService(data['class_of_service']).label} service level saved."


SETTINGS_ACTIONS: dict[str, Action] = {
    "release-save": _release_save,
    "service-save": _service_save,
    "column-add": _column_add,
    "column-save": _column_save,
    "column-move": _column_move,
    "column-delete": _column_delete,
    "lane-add": _lane_add,
    "lane-save": _lane_save,
    "lane-move": _lane_move,
    "lane-delete": _lane_delete,
    "label-add": _label_add,
    "label-save": _label_save,
    "label-delete": _label_delete,
}


def _board_settings(board: Board) -> dict[str, Any]:
    """The settings page's reads: six queries whatever the board's size."""
    columns = list(
        Column.objects.filter(board=board)
        .annotate(
            wip=Count("cards", filter=Q(cards__archived=False)),
            archived=Count("cards", filter=Q(cards__archived=True)),
        )
        .order_by("position", "id")
    )
    lanes = list(
        Swimlane.objects.filter(board=board)
        .annotate(cards_total=Count("cards"))
        .order_by("position", "id")
    )
    labels = list(Label.objects.filter(board=board).order_by("name"))
    # A class of service's SLE (set, or derived from its cycle time) and WIP limit: 3 queries.
    service = [
        {**level, "label": ClassOfService(level["class_of_service"]).label}
        for level in service_levels.board_service_levels(board, timezone.now())
    ]
    return {"columns": columns, "lanes": lanes, "labels": labels, "service_levels": service}


@login_required
@require_http_methods(["GET", "POST"])
def board_settings_page(request: AuthedHttpRequest, board_id: int) -> HttpResponse:
    """A board's columns (name, stage, WIP limit and policy, the column's policy text, order),
    swimlanes and labels. Everyone in the organisation may read it; those who may write to the
    board (its team, owners and admins) may change it; a refused POST answers 403."""
    board = board_or_404(request, board_id)
    access = selectors.access_of(board)
    status = 200
    if request.method == "POST":
        if not access.can_write:
            messages.error(request, "Only members of the board's team, or an owner or admin "
                           "of the organisation, can change its settings.")  # fmt: skip
            status = 403
        else:
            done, status = _run(request, SETTINGS_ACTIONS, board)
            if done:
                messages.success(request, done)
                return redirect(f"{request.path}#{request.POST.get('action', '').split('-')[0]}s")
    return render(
        request,
        "boards/board_settings.html",
        {
            "board": board,
            "can_write": access.can_write,
            "role": access.role,
            "stages": Stage.choices,
            "wip_policies": WipPolicy.choices,
            **_board_settings(board),
        },
        status=status,
    )


# --- the organisation's people and teams -------------------------------------------------------


def _member(request: AuthedHttpRequest, organization) -> Any:
    return accounts_selectors.get_member(organization, _posted_id(request, "user"))


def _team(request: AuthedHttpRequest, organization) -> Any:
    return selectors.resolve_team(organization.pk, _posted_id(request, "team"))


def _member_save(request: AuthedHttpRequest, organization) -> str:
    membership = _member(request, organization)
    data = _valid(MemberForm(request.POST))
    accounts_services.change_member(
        membership, role=data["role"], wip_limit=data["wip_limit"], actor=request.user
    )
    return f"{membership.user.display_name} saved."


def _member_remove(request: AuthedHttpRequest, organization) -> str:
    membership = _member(request, organization)
    accounts_services.remove_member(membership, actor=request.user)
    return f"{membership.user.display_name} removed from {organization.name}."


def _invitation_revoke(request: AuthedHttpRequest, organization) -> str:
    invitation = accounts_selectors.get_invitation(organization, _posted_id(request, "invitation"))
    accounts_services.revoke_invitation(invitation, actor=request.user)
    return f"Invitation {invitation.prefix}… revoked: its link no longer works."


def _team_add(request: AuthedHttpRequest, organization) -> str:
    name = _valid(TeamForm(request.POST))["name"].strip()
    team = accounts_services.create_team(organization, name=name, actor=request.user)
    return f"Team {team.name} created."


def _team_rename(request: AuthedHttpRequest, organization) -> str:
    team = _team(request, organization)
    name = _valid(TeamForm(request.POST))["name"]
    team = accounts_services.rename_team(team, name=name, actor=request.user)
    return f"Team {team.name} saved."


def _team_member_add(request: AuthedHttpRequest, organization) -> str:
    team = _team(request, organization)
    membership = _member(request, organization)
    accounts_services.add_team_member(team, user=membership.user, actor=request.user)
    return f"{membership.user.display_name} joined {team.name}."


def _team_member_remove(request: AuthedHttpRequest, organization) -> str:
    team = _team(request, organization)
    membership = _member(request, organization)
    accounts_services.remove_team_member(team, user=membership.user, actor=request.user)
    return f"{membership.user.display_name} left {team.name}."


PEOPLE_ACTIONS: dict[str, Action] = {
    "member-save": _member_save,
    "member-remove": _member_remove,
    "invitation-revoke": _invitation_revoke,
    "team-add": _team_add,
    "team-rename": _team_rename,
    "team-member-add": _team_member_add,
    "team-member-remove": _team_member_remove,
}


def _people(organization) -> dict[str, Any]:
    now = timezone.now()
    members = list(
        accounts_selectors.members_of_organization(organization).order_by("user__username")
    )
    teams = list(accounts_selectors.teams_of_organization(organization).order_by("name", "id"))
    invitations = [
        i
        for i in accounts_selectors.invitations_of_organization(organization)
        .select_related("created_by")
        .order_by("-created_at")[:50]
        if i.status_at(now) == InvitationStatus.PENDING
    ]
    for team in teams:
        ids = {u.pk for u in team.members.all()}
        # for the template: the team's people, and the organisation's others to add
        team.member_list = sorted(team.members.all(), key=lambda u: u.username)  # type: ignore[attr-defined]
        team.others = [m.user for m in members if m.user_id not in ids]  # type: ignore[attr-defined]
    return {"members": members, "teams": teams, "invitations": invitations}


@never_cache  # an invitation's link is shown once, in this answer
@login_required
@require_http_methods(["GET", "POST"])
def people_page(request: AuthedHttpRequest, slug: str) -> HttpResponse:
    """The organisation's people (role, personal WIP limit, removal), its pending invitations
    (made here, the link shown once) and its teams (create, rename, members). Every member
    may read it; only owners and admins may change anything (403)."""
    organization, access = org_or_404(request, slug)
    status, invitation_link, invite_form = 200, None, InvitationForm()
    if request.method == "POST":
        if not access.is_manager:
            messages.error(request, "Only an owner or admin of the organisation can do this.")
            status = 403
        elif request.POST.get("action") == "invite":
            invite_form = InvitationForm(request.POST)
            try:
                data = _valid(invite_form)
                invitation, key = accounts_services.create_invitation(
                    organization, role=data["role"], email=data["email"], actor=request.user
                )
            except DomainError as exc:
                messages.error(request, exc.detail)
                status = exc.status
            else:
                invitation_link = request.build_absolute_uri(reverse("invitation", args=[key]))
                invite_form = InvitationForm()
                messages.success(
                    request,
                    f"Invitation made{' for ' + invitation.email if invitation.email else ''}: "
                    "send its link below. It is shown this once.",
                )
        else:
            done, status = _run(request, PEOPLE_ACTIONS, organization)
            if done:
                messages.success(request, done)
                return redirect("org-people", slug=organization.slug)
    return render(
        request,
        "boards/org_people.html",
        {
            "organization": organization,
            "role": access.role,
            "tab": "people",
            "is_manager": access.is_manager,
            "is_owner": access.role == Role.OWNER,
            "roles": Role.choices,
            "invite_form": invite_form,
            "invitation_link": invitation_link,
            **_people(organization),
        },
        status=status,
    )
