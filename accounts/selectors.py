"""Who may see and change what. Every read path and every service asks here, so that the rules of
the design (org-wide read, write by team membership or owner/admin, viewers read-only, another
organisation's objects are not found) live in one place."""

from dataclasses import dataclass

from django.db.models import Exists, OuterRef, QuerySet

from accounts.models import (
    MANAGER_ROLES,
    ApiToken,
    Invitation,
    InvitationStatus,
    Membership,
    Organization,
    Role,
    Team,
    TeamMembership,
    User,
    hash_token_key,
)
from kanban.exceptions import Forbidden, InvitationNotValid, NotFound


@dataclass(frozen=True)
class Access:
    role: str | None
    on_team: bool = False

    @property
    def can_read(self) -> bool:
        return self.role is not None

    @property
    def is_manager(self) -> bool:
        return self.role in MANAGER_ROLES

    @property
    def can_write(self) -> bool:
        return self.is_manager or (self.role == Role.MEMBER and self.on_team)


NO_ACCESS = Access(role=None)


def on_team_subquery(user: User, team_ref: str = "team_id") -> Exists:
    return Exists(TeamMembership.objects.filter(team_id=OuterRef(team_ref), user_id=user.pk))


def board_access(user: User, *, organization_id: int, team_id: int) -> Access:
    """The user's access to a board of `team_id` in `organization_id` (one query)."""
    if not user.is_authenticated:
        return NO_ACCESS
    row = (
        Membership.objects.filter(user_id=user.pk, organization_id=organization_id)
        .order_by("pk")  # not the default ordering, which joins users to sort one row
        .annotate(on_team=Exists(TeamMembership.objects.filter(team_id=team_id, user_id=user.pk)))
        .values_list("role", "on_team")
        .first()
    )
    if row is None:
        return NO_ACCESS
    return Access(role=row[0], on_team=row[1])


def org_access(user: User, organization_id: int) -> Access:
    if not user.is_authenticated:
        return NO_ACCESS
    role = (
        Membership.objects.filter(user_id=user.pk, organization_id=organization_id)
        .order_by("pk")  # not the default ordering, which joins users to sort one row
        .values_list("role", flat=True)
        .first()
    )
    return Access(role=role)


def organizations_for_user(user: User) -> QuerySet[Organization]:
    return Organization.objects.filter(memberships__user_id=user.pk)


def get_organization_for_user(user: User, slug: str) -> tuple[Organization, Access]:
    row = (
        Membership.objects.filter(user_id=user.pk, organization__slug=slug)
        .select_related("organization")
        .first()
    )
    if row is None:
        raise NotFound("Organisation not found.")
    return row.organization, Access(role=row.role)


def memberships_for_user(user: User) -> QuerySet[Membership]:
    return Membership.objects.filter(user_id=user.pk).select_related("organization")


def teams_of_organization(organization: Organization) -> QuerySet[Team]:
    return Team.objects.filter(organization=organization).prefetch_related("members")


def members_of_organization(organization: Organization) -> QuerySet[Membership]:
    return Membership.objects.filter(organization=organization).select_related("user")


def get_organization_for_manager(user: User, slug: str) -> Organization:
    """The organisation, for its owners and admins: NotFound for anyone outside it, Forbidden
    for its other members."""
    organization, access = get_organization_for_user(user, slug)
    if not access.is_manager:
        raise Forbidden("Only an owner or admin of the organisation can do this.")
    return organization


def get_member(organization: Organization, user_id: int) -> Membership:
    """A member of the organisation by user id. A user of another organisation and a user id
    that does not exist are one and the same NotFound."""
    membership = (
        Membership.objects.filter(organization=organization, user_id=user_id)
        .select_related("user", "organization")
        .first()
    )
    if membership is None:
        raise NotFound("No such member of this organisation.")
    return membership


def invitations_of_organization(organization: Organization) -> QuerySet[Invitation]:
    return Invitation.objects.filter(organization=organization)


def get_invitation(organization: Organization, invitation_id: int) -> Invitation:
    invitation = (
        Invitation.objects.filter(organization=organization, pk=invitation_id)
        .select_related("organization")
        .first()
    )
    if invitation is None:
        raise NotFound("No such invitation in this organisation.")
    return invitation


def get_pending_invitation(key: str) -> Invitation:
    """The invitation of a key, with its organisation, if it can still be accepted; one
    InvitationNotValid otherwise, whether the key is unknown, expired, used or revoked."""
    invitation = (
        Invitation.objects.filter(key_hash=hash_token_key(key))
        .select_related("organization")
        .first()
    )
    if invitation is None or invitation.status != InvitationStatus.PENDING:
        raise InvitationNotValid()
    return invitation


def tokens_of_user(user: User) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user_id=user.pk).order_by("-created_at", "-pk")


def get_token_of_user(user: User, token_id: int) -> ApiToken:
    """One of the user's own tokens; anyone else's is not found."""
    token = tokens_of_user(user).filter(pk=token_id).first()
    if token is None:
        raise NotFound("Token not found.")
    return token
