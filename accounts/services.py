"""Every write to organisations, teams, memberships and tokens."""

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify

from accounts.models import (
    INVITATION_LIFETIME,
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
    new_token_key,
)
from accounts.selectors import Access, org_access
from kanban.exceptions import Conflict, Forbidden, InvalidInput, InvitationNotValid, NotFound
from kanban.publisher import close_sockets
from kanban.sentinels import UNSET, Unset


def _check_username(username: str) -> None:
    """A username the User model's validators accept, or the API's 400 saying why."""
    try:
        if not username:
            raise ValidationError("A username is required.")
        User._meta.get_field("username").run_validators(username)
    except ValidationError as exc:
        raise InvalidInput(exc.messages[0], fields={"username": exc.messages}) from exc


def ensure_org_manager(actor: User, organization: Organization) -> Access:
    """Refuse unless `actor` is an owner or admin of the organisation; return their access."""
    access = org_access(actor, organization.pk)
    if not access.is_manager:
        raise Forbidden("Only an owner or admin of the organisation can do this.")
    return access


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
    wip_limit: int | Unset | None = UNSET,
    actor: User,
) -> Membership:
    """Add `user` to the organisation, or change their role and personal WIP limit (left as it
    is when not given). Only an owner makes or unmakes owners, and the last owner stays one.

    It enrols a user without their consent, so no request reaches it: the demo loader, the
    benchmarks and tests use it. People join by invitation (`create_invitation`)."""
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
    defaults: dict[str, Any] = {"role": role}
    if wip_limit is not UNSET:
        defaults["wip_limit"] = wip_limit
    membership, _ = Membership.objects.update_or_create(
        organization=organization, user=user, defaults=defaults
    )
    return membership


def _lock_member_and_owners(membership: Membership) -> tuple[Membership, int]:
    """Lock `membership` and every owner's membership of its organisation, in pk order and in
    one statement; return it re-read under the lock, with the number of owners. Holding the
    owners' rows is what keeps "the last owner stays" true when two owners step down at once."""
    rows = list(
        Membership.objects.select_for_update(no_key=True)
        .filter(
            Q(pk=membership.pk) | Q(organization_id=membership.organization_id, role=Role.OWNER)
        )
        .order_by("pk")
    )
    current = next((m for m in rows if m.pk == membership.pk), None)
    if current is None:
        raise NotFound("No such member of this organisation.")
    return current, sum(1 for m in rows if m.role == Role.OWNER)


def _managing_role(actor: User, organization: Organization, *, site_permission: str) -> str:
    """The role with which `actor` takes access away in the organisation: their own if they are
    an owner or admin of it; an owner's for staff whom the admin site lets do it (the model
    permission `site_permission`), so that the admin's deletions keep the same rules."""
    access = org_access(actor, organization.pk)
    if access.is_manager and access.role is not None:
        return access.role
    if actor.is_staff and actor.has_perm(site_permission):
        return Role.OWNER
    raise Forbidden("Only an owner or admin of the organisation can do this.")


def _validated_role(role: str) -> str:
    if role not in Role.values:
        raise InvalidInput(f"Unknown role {role!r}.", fields={"role": [f"One of {Role.values}."]})
    return role


@transaction.atomic
def change_member(
    membership: Membership,
    *,
    role: str | Unset = UNSET,
    wip_limit: int | Unset | None = UNSET,
    actor: User,
) -> Membership:
    """Change a member's role and personal WIP limit (each left as it is when not given). Only
    an owner makes or unmakes owners, and the last owner stays one."""
    access = ensure_org_manager(actor, membership.organization)
    current, owners = _lock_member_and_owners(membership)
    if role is not UNSET and role != current.role:
        _validated_role(role)
        if role == Role.OWNER and access.role != Role.OWNER:
            raise Forbidden("Only an owner can make another owner.")
        if current.role == Role.OWNER:
            if access.role != Role.OWNER:
                raise Forbidden("Only an owner can change an owner's role.")
            if owners <= 1:
                raise Conflict("The organisation needs at least one owner: make another first.")
        current.role = role
    if wip_limit is not UNSET:
        if wip_limit is not None and wip_limit < 1:
            raise InvalidInput(
                "A personal WIP limit is at least 1 (or none).", fields={"wip_limit": [">= 1."]}
            )
        current.wip_limit = wip_limit
    current.save(update_fields=["role", "wip_limit"])
    return current


@transaction.atomic
def remove_member(membership: Membership, *, actor: User) -> None:
    """Take a user out of an organisation: a manager removes someone, or a member leaves. Only
    an owner removes an owner, and the last owner can neither leave nor be removed. Their team
    memberships in the organisation go too, and once this commits their open websockets on its
    boards close (access is checked when a socket opens; this stops one already open)."""
    leaving = membership.user_id == actor.pk
    actor_role = (
        None
        if leaving
        else _managing_role(
            actor, membership.organization, site_permission="accounts.delete_membership"
        )
    )
    current, owners = _lock_member_and_owners(membership)
    if current.role == Role.OWNER:
        if not leaving and actor_role != Role.OWNER:
            raise Forbidden("Only an owner can remove an owner.")
        if owners <= 1:
            raise Conflict("The organisation's last owner cannot leave: make another owner first.")
    TeamMembership.objects.filter(
        team__organization_id=current.organization_id, user_id=current.user_id
    ).delete()
    close_sockets(user_id=current.user_id, organization_id=current.organization_id)
    current.delete()


# --- invitations -----------------------------------------------------------------------------


@transaction.atomic
def create_invitation(
    organization: Organization, *, role: str, email: str = "", actor: User
) -> tuple[Invitation, str]:
    """Make an invitation to join `organization` with `role`; return it with its key. Only the
    key's hash is stored, so the key (the link) is shown this once. Nobody is looked up, by
    email or otherwise: the answer is the same whoever it is meant for, and only whoever
    accepts it joins. Only an owner invites an owner."""
    access = ensure_org_manager(actor, organization)
    _validated_role(role)
    if role == Role.OWNER and access.role != Role.OWNER:
        raise Forbidden("Only an owner can invite an owner.")
    email = email.strip()
    if email:
        try:
            validate_email(email)
        except ValidationError as exc:
            raise InvalidInput("Not an email address.", fields={"email": exc.messages}) from exc
    key = new_token_key()
    now = timezone.now()
    invitation = Invitation.objects.create(
        organization=organization,
        role=role,
        email=email,
        key_hash=hash_token_key(key),
        prefix=key[:8],
        created_by=actor,
        created_at=now,
        expires_at=now + INVITATION_LIFETIME,
    )
    return invitation, key


@transaction.atomic
def revoke_invitation(invitation: Invitation, *, actor: User) -> Invitation:
    """Revoke a pending invitation: its link stops working at once. Revoking twice (or an
    expired invitation) is no error; an accepted one cannot be revoked: remove the member."""
    _managing_role(actor, invitation.organization, site_permission="accounts.change_invitation")
    current = Invitation.objects.select_for_update(no_key=True).get(pk=invitation.pk)
    if current.accepted_at is not None:
        raise Conflict("This invitation has been accepted: remove the member instead.")
    if current.revoked_at is None:
        current.revoked_at = timezone.now()
        current.save(update_fields=["revoked_at"])
    return current


def _lock_pending_invitation(key: str, now: datetime) -> Invitation:
    """The invitation of `key`, locked until the transaction ends, if it can be accepted.
    Whoever comes second to one key waits here and then finds it used."""
    invitation = (
        Invitation.objects.select_for_update(no_key=True)
        .filter(key_hash=hash_token_key(key))
        .first()
    )
    if invitation is None or invitation.status_at(now) != InvitationStatus.PENDING:
        raise InvitationNotValid()
    return invitation


def _join(invitation: Invitation, user: User, now: datetime) -> Membership:
    # An existing member keeps the membership and role they have: an invitation is a way in,
    # not a way to change one's role. It is used up all the same.
    membership, _ = Membership.objects.get_or_create(
        organization_id=invitation.organization_id, user=user, defaults={"role": invitation.role}
    )
    invitation.accepted_at, invitation.accepted_by = now, user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    return membership


@transaction.atomic
def accept_invitation(key: str, *, actor: User) -> Membership:
    """`actor` joins the invitation's organisation with its role, and the invitation is used
    up. A key that is unknown, expired, used or revoked raises one InvitationNotValid (which
    it was is not said) and changes nothing."""
    now = timezone.now()
    return _join(_lock_pending_invitation(key, now), actor, now)


@transaction.atomic
def sign_up_with_invitation(
    key: str,
    *,
    username: str,
    password: str,
    email: str = "",
    first_name: str = "",
    last_name: str = "",
) -> Membership:
    """Create an account and accept the invitation with it, in one transaction: for people who
    have none yet. The key is checked first, so that without a valid one nothing is said about
    which usernames exist; the password must pass Django's validators."""
    now = timezone.now()
    invitation = _lock_pending_invitation(key, now)
    _check_username(username)
    try:
        validate_password(
            password,
            user=User(username=username, email=email, first_name=first_name, last_name=last_name),
        )
    except ValidationError as exc:
        raise InvalidInput(exc.messages[0], fields={"password": exc.messages}) from exc
    user = create_user(
        username=username,
        password=password,
        email=email,
        first_name=first_name,
        last_name=last_name,
    )
    return _join(invitation, user, now)


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
    if token.user_id != actor.pk and not actor.is_staff:
        raise Forbidden("You can only revoke your own tokens.")
    close_sockets(token_id=token.pk)
    token.delete()


@transaction.atomic
def set_user_active(user: User, *, active: bool, actor: User) -> User:
    """Deactivate (or reactivate) a user. A deactivated user's sessions and tokens stop
    working at once (both check `is_active`), and their open websockets close on commit.
    Only staff (the admin site) decide this: a user may belong to several organisations."""
    if not actor.is_staff:
        raise Forbidden("Only staff can deactivate or reactivate a user.")
    if user.is_active != active:
        user.is_active = active
        user.save(update_fields=["is_active"])
        if not active:
            close_sockets(user_id=user.pk)
    return user


# --- the first run ---------------------------------------------------------------------------

# Held while the first owner is made, so that two first-run forms sent at once make one owner:
# the second waits, then finds a user and is refused. (Any number; it names this lock only.)
FIRST_RUN_LOCK = 0x0BE7A_0001


def is_first_run() -> bool:
    """A fresh install: nobody has an account yet, so the first-run page may make the owner."""
    return not User.objects.exists()


@transaction.atomic
def set_up_first_owner(
    *,
    username: str,
    password: str,
    email: str = "",
    organization_name: str,
    team_name: str = "",
) -> tuple[User, Organization]:
    """Make the first account of a fresh install, the owner of its first organisation (and a
    member of its first team, if named). There is no actor: nobody exists yet, and that is
    the one right this needs; once any user exists it raises Forbidden and changes nothing.
    The owner is also the site's staff and superuser: the Django admin would otherwise need a
    shell (`createsuperuser`), which is what this page replaces.

    Takes a transaction-level lock first (Postgres' advisory lock; SQLite's write lock is taken
    when the transaction begins, transaction_mode IMMEDIATE), then checks, so that of two
    submissions at once exactly one makes an owner."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [FIRST_RUN_LOCK])
    if not is_first_run():
        raise Forbidden("Obeya is set up already: log in, or ask an owner for an invitation.")
    username = username.strip()
    organization_name = organization_name.strip()
    if not organization_name:
        raise InvalidInput("Name the organisation.", fields={"organization_name": ["Required."]})
    _check_username(username)
    email = email.strip()
    if email:
        try:
            validate_email(email)
        except ValidationError as exc:
            raise InvalidInput("Not an email address.", fields={"email": exc.messages}) from exc
    try:
        validate_password(password, user=User(username=username, email=email))
    except ValidationError as exc:
        raise InvalidInput(exc.messages[0], fields={"password": exc.messages}) from exc
    user = User.objects.create_user(
        username=username, password=password, email=email, is_staff=True, is_superuser=True
    )
    organization = create_organization(name=organization_name, actor=user)
    if team_name.strip():
        create_team(organization, name=team_name.strip(), members=[user], actor=user)
    return user, organization


# --- teams, as the People page changes them ----------------------------------------------------


@transaction.atomic
def rename_team(team: Team, *, name: str, actor: User) -> Team:
    """A team's new name (its slug, which URLs and scripts may know, stays)."""
    ensure_org_manager(actor, team.organization)
    name = name.strip()
    if not name:
        raise InvalidInput("The team needs a name.", fields={"name": ["Required."]})
    team = Team.objects.select_for_update(no_key=True).get(pk=team.pk)
    if team.name != name:
        team.name = name
        team.save(update_fields=["name"])
    return team


@transaction.atomic
def remove_team_member(team: Team, *, user: User, actor: User) -> None:
    """Take `user` off `team`: they keep their organisation membership (and can read its
    boards), but no longer write to the team's boards. Removing a non-member is no error."""
    ensure_org_manager(actor, team.organization)
    TeamMembership.objects.filter(team=team, user=user).delete()
