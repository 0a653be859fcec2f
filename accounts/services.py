"""Every write to organisations, teams, memberships and tokens."""

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from accounts.models import (
    ApiToken,
    Membership,
    Organization,
    Role,
    Team,
    TeamMembership,
    User,
    hash_token_key,
    new_token_key,
)
from accounts.selectors import org_access
from kanban.exceptions import Conflict, Forbidden, InvalidInput
from kanban.sentinels import UNSET


def ensure_org_manager(actor: User, organization: Organization) -> None:
    if not org_access(actor, organization.pk).is_manager:
        raise Forbidden("Only an owner or admin of the organisation can do this.")


@transaction.atomic
def create_user(
    *, username: str, password: str, email: str = "", first_name: str = "", last_name: str = ""
) -> User:
    if User.objects.filter(username__iexact=username).exists():
        raise Conflict(f"The username {username!r} is taken.", fields={"username": ["Taken."]})
    return User.objects.create_user(
        username=username,
        password=password,
        email=email,
        first_name=first_name,
        last_name=last_name,
    )


@transaction.atomic
def create_organization(*, name: str, slug: str = "", actor: User) -> Organization:
    """Create an organisation; its creator becomes its owner."""
    slug = slug or slugify(name)[:60]
    if not slug:
        raise InvalidInput("The organisation needs a name.", fields={"name": ["Required."]})
    if Organization.objects.filter(slug=slug).exists():
        raise Conflict(f"The slug {slug!r} is taken.", fields={"slug": ["Taken."]})
    organization = Organization.objects.create(name=name, slug=slug)
    Membership.objects.create(organization=organization, user=actor, role=Role.OWNER)
    return organization


@transaction.atomic
def add_member(
    organization: Organization,
    *,
    user: User,
    role: str = Role.MEMBER,
    wip_limit: int | None = UNSET,
    actor: User,
) -> Membership:
    """Add `user` to the organisation, or change their role and personal WIP limit (left as it
    is when not given). Only an owner makes or unmakes owners, and the last owner stays one."""
    ensure_org_manager(actor, organization)
    actor_is_owner = org_access(actor, organization.pk).role == Role.OWNER
    current = (
        Membership.objects.select_for_update().filter(organization=organization, user=user).first()
    )
    if role == Role.OWNER and not actor_is_owner:
        raise Forbidden("Only an owner can make another owner.")
    if current is not None and current.role == Role.OWNER and role != Role.OWNER:
        if not actor_is_owner:
            raise Forbidden("Only an owner can change an owner's role.")
        owners = Membership.objects.filter(organization=organization, role=Role.OWNER).count()
        if owners <= 1:
            raise Conflict("The organisation needs at least one owner: make another first.")
    defaults = {"role": role}
    if wip_limit is not UNSET:
        defaults["wip_limit"] = wip_limit
    membership, _ = Membership.objects.update_or_create(
        organization=organization, user=user, defaults=defaults
    )
    return membership


@transaction.atomic
def create_team(
    organization: Organization,
    *,
    name: str,
    slug: str = "",
    members: Iterable[User] = (),
    actor: User,
) -> Team:
    ensure_org_manager(actor, organization)
    slug = slug or slugify(name)[:60]
    if not slug:
        raise InvalidInput("The team needs a name.", fields={"name": ["Required."]})
    members = list(members)
    member_ids = {u.pk for u in members}
    known = set(
        Membership.objects.filter(organization=organization, user_id__in=member_ids).values_list(
            "user_id", flat=True
        )
    )
    if member_ids - known:
        raise InvalidInput(
            "Every team member must belong to the organisation.",
            fields={"members": [f"Unknown user ids: {sorted(member_ids - known)}"]},
        )
    try:
        with transaction.atomic():
            team = Team.objects.create(organization=organization, name=name, slug=slug)
    except IntegrityError as exc:
        raise Conflict(f"A team with slug {slug!r} exists.", fields={"slug": ["Taken."]}) from exc
    TeamMembership.objects.bulk_create(TeamMembership(team=team, user=u) for u in members)
    return team


@transaction.atomic
def add_team_member(team: Team, *, user: User, actor: User) -> TeamMembership:
    ensure_org_manager(actor, team.organization)
    if not Membership.objects.filter(organization_id=team.organization_id, user=user).exists():
        raise InvalidInput("The user does not belong to the organisation.")
    membership, _ = TeamMembership.objects.get_or_create(team=team, user=user)
    return membership


# A token lives at most this long when it is given an expiry (tokens without one never expire).
TOKEN_MAX_DAYS = 3650


@transaction.atomic
def create_api_token(
    *, user: User, name: str = "", expires_at: datetime | None = None
) -> tuple[ApiToken, str]:
    """Create a token of `user` (who is the actor: a token is always one's own) and return it
    with its key; only the key's hash is stored, so the key is shown this once."""
    now = timezone.now()
    if expires_at is not None and not (now < expires_at <= now + timedelta(days=TOKEN_MAX_DAYS)):
        raise InvalidInput(
            f"A token expires in the future, within {TOKEN_MAX_DAYS} days.",
            fields={"expires_at": ["In the future, at most ten years away."]},
        )
    key = new_token_key()
    token = ApiToken.objects.create(
        user=user, name=name, key_hash=hash_token_key(key), prefix=key[:8], expires_at=expires_at
    )
    return token, key


@transaction.atomic
def revoke_api_token(token: ApiToken, *, actor: User) -> None:
    """Delete the token: requests with it fail from the commit on, and its open websockets
    close then."""
    from boards.events import close_sockets  # the one publisher; boards depends on accounts

    if token.user_id != actor.pk and not actor.is_staff:
        raise Forbidden("You can only revoke your own tokens.")
    close_sockets(token_id=token.pk)
    token.delete()


@transaction.atomic
def set_user_active(user: User, *, active: bool, actor: User) -> User:
    """Deactivate (or reactivate) a user. A deactivated user's sessions and tokens stop
    working at once (both check `is_active`), and their open websockets close on commit.
    Only staff (the admin site) decide this: a user may belong to several organisations."""
    from boards.events import close_sockets

    if not actor.is_staff:
        raise Forbidden("Only staff can deactivate or reactivate a user.")
    if user.is_active != active:
        user.is_active = active
        user.save(update_fields=["is_active"])
        if not active:
            close_sockets(user_id=user.pk)
    return user
