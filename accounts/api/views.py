"""The REST API for the user, organisations, teams, members and tokens."""

from django.contrib.auth import authenticate
from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.exceptions import Throttled
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import selectors, services
from accounts.api import schema  # noqa: F401  (registers the token scheme for the OpenAPI schema)
from accounts.api import serializers as s
from accounts.authentication import AuthedRequest
from accounts.models import User
from kanban.api import ERRORS, ErrorOut, Pagination, paginated, validated
from kanban.exceptions import DomainError, InvalidInput
from kanban.ratelimit import LoginRateThrottle

CONFLICT = {
    409: OpenApiResponse(
        ErrorOut, description="`conflict`: the slug is taken, or the last owner would go."
    )
}


def organization_dict(organization, role: str) -> dict:
    return {
        "id": organization.pk,
        "name": organization.name,
        "slug": organization.slug,
        "role": role,
    }


def team_dict(team) -> dict:
    return {
        "id": team.pk,
        "organization": team.organization.slug,
        "name": team.name,
        "slug": team.slug,
        "members": sorted(u.pk for u in team.members.all()),
    }


def member_dict(membership) -> dict:
    return {
        "user": membership.user_id,
        "username": membership.user.username,
        "name": membership.user.display_name,
        "role": membership.role,
        "wip_limit": membership.wip_limit,
    }


class InvalidCredentials(DomainError):
    code = "invalid_credentials"
    status = 400
    default_detail = "Unable to log in with the given username and password."


class TokenView(APIView):
    """Exchange a username and password for a new API token (shown once)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    # Throttled per client address, and locked per account by the authentication backend
    # (accounts.lockout): a password endpoint is what gets brute-forced.
    throttle_classes = [LoginRateThrottle]

    @extend_schema(
        request=s.TokenInput,
        responses={
            201: s.TokenOut,
            400: ERRORS[400],
            429: OpenApiResponse(description="Too many tries."),
        },
    )
    def post(self, request: Request) -> Response:
        data = validated(s.TokenInput, request)
        user = authenticate(request, username=data["username"], password=data["password"])
        if user is None:
            wait = getattr(request, "login_retry_after", None)
            if wait is not None:
                raise Throttled(wait, detail="Too many failed logins for this account.")
            raise InvalidCredentials()
        _, key = services.create_api_token(user=user, name=data["name"] or "api")
        return Response({"token": key}, status=status.HTTP_201_CREATED)


class MeView(APIView):
    @extend_schema(responses={200: s.MeOut, 401: ERRORS[401]})
    def get(self, request: AuthedRequest) -> Response:
        user = request.user
        return Response(
            {
                "id": user.pk,
                "username": user.username,
                "name": user.display_name,
                "email": user.email,
                "organizations": [
                    organization_dict(m.organization, m.role)
                    for m in selectors.memberships_for_user(user)
                ],
            }
        )


class OrganizationListView(APIView):
    pagination_class = Pagination

    @extend_schema(responses={200: s.OrganizationOut(many=True), **ERRORS})
    def get(self, request: AuthedRequest) -> Response:
        memberships = selectors.memberships_for_user(request.user).order_by("organization__name")
        return paginated(
            self,
            request,
            memberships,
            lambda page: [organization_dict(m.organization, m.role) for m in page],
        )

    @extend_schema(
        request=s.OrganizationInput, responses={201: s.OrganizationOut, **ERRORS, **CONFLICT}
    )
    def post(self, request: AuthedRequest) -> Response:
        data = validated(s.OrganizationInput, request)
        organization = services.create_organization(
            name=data["name"], slug=data["slug"], actor=request.user
        )
        return Response(organization_dict(organization, "owner"), status=status.HTTP_201_CREATED)


class OrganizationDetailView(APIView):
    @extend_schema(responses={200: s.OrganizationOut, **ERRORS})
    def get(self, request: AuthedRequest, slug: str) -> Response:
        organization, access = selectors.get_organization_for_user(request.user, slug)
        assert access.role is not None  # the access of a membership
        return Response(organization_dict(organization, access.role))


class TeamListView(APIView):
    pagination_class = Pagination

    @extend_schema(responses={200: s.TeamOut(many=True), **ERRORS})
    def get(self, request: AuthedRequest, slug: str) -> Response:
        organization, _ = selectors.get_organization_for_user(request.user, slug)
        teams = selectors.teams_of_organization(organization).select_related("organization")
        return paginated(self, request, teams, lambda page: [team_dict(t) for t in page])

    @extend_schema(request=s.TeamInput, responses={201: s.TeamOut, **ERRORS, **CONFLICT})
    def post(self, request: AuthedRequest, slug: str) -> Response:
        organization, _ = selectors.get_organization_for_user(request.user, slug)
        data = validated(s.TeamInput, request)
        wanted = set(data["members"])
        members = list(User.objects.filter(pk__in=wanted, memberships__organization=organization))
        if len(members) != len(wanted):
            raise InvalidInput(
                "Team members must be members of the organisation.",
                fields={
                    "members": [f"Unknown user ids: {sorted(wanted - {u.pk for u in members})}"]
                },
            )
        team = services.create_team(
            organization, name=data["name"], slug=data["slug"], members=members, actor=request.user
        )
        return Response(team_dict(team), status=status.HTTP_201_CREATED)


class MemberListView(APIView):
    pagination_class = Pagination

    @extend_schema(responses={200: s.MemberOut(many=True), **ERRORS})
    def get(self, request: AuthedRequest, slug: str) -> Response:
        organization, _ = selectors.get_organization_for_user(request.user, slug)
        return paginated(
            self,
            request,
            selectors.members_of_organization(organization),
            lambda page: [member_dict(m) for m in page],
        )

    # Django's View types it for HttpRequest, DRF's APIView for its Request
    def http_method_not_allowed(self, request: Request, *args, **kwargs):  # type: ignore[override]
        # Adding a user by name enrolled anyone without their consent (and told who exists):
        # people join by invitation now. Said here, so that an old script learns where to go.
        if request.method == "POST":
            raise exceptions.MethodNotAllowed(
                "POST",
                detail="Members are no longer added by username: invite them with "
                f"POST /api/v1/orgs/{kwargs.get('slug', '{slug}')}/invitations/ and send them "
                "its accept_url.",
            )
        return super().http_method_not_allowed(request, *args, **kwargs)


class MemberDetailView(APIView):
    """One member: a manager changes their role or personal WIP limit, or removes them; a
    member may remove themself (leave). Only an owner makes, unmakes or removes owners."""

    @extend_schema(responses={200: s.MemberOut, **ERRORS})
    def get(self, request: AuthedRequest, slug: str, user_id: int) -> Response:
        organization, _ = selectors.get_organization_for_user(request.user, slug)
        return Response(member_dict(selectors.get_member(organization, user_id)))

    @extend_schema(request=s.MemberUpdateInput, responses={200: s.MemberOut, **ERRORS, **CONFLICT})
    def patch(self, request: AuthedRequest, slug: str, user_id: int) -> Response:
        organization, _ = selectors.get_organization_for_user(request.user, slug)
        membership = selectors.get_member(organization, user_id)
        data = validated(s.MemberUpdateInput, request)
        membership = services.change_member(membership, **data, actor=request.user)
        return Response(member_dict(membership))

    @extend_schema(responses={204: None, **ERRORS, **CONFLICT})
    def delete(self, request: AuthedRequest, slug: str, user_id: int) -> Response:
        organization, _ = selectors.get_organization_for_user(request.user, slug)
        membership = selectors.get_member(organization, user_id)
        services.remove_member(membership, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


def invitation_dict(invitation) -> dict:
    return {
        "id": invitation.pk,
        "role": invitation.role,
        "email": invitation.email,
        "expires_at": invitation.expires_at.isoformat(),
        "created_at": invitation.created_at.isoformat(),
        "status": invitation.status,
    }


class InvitationListView(APIView):
    """Invitations to the organisation, for its owners and admins. Making one looks nobody
    up: the answer is the same whoever it is for, and only whoever accepts it joins."""

    pagination_class = Pagination

    @extend_schema(responses={200: s.InvitationOut(many=True), **ERRORS})
    def get(self, request: AuthedRequest, slug: str) -> Response:
        organization = selectors.get_organization_for_manager(request.user, slug)
        return paginated(
            self,
            request,
            selectors.invitations_of_organization(organization),
            lambda page: [invitation_dict(i) for i in page],
        )

    @extend_schema(request=s.InvitationInput, responses={201: s.NewInvitationOut, **ERRORS})
    def post(self, request: AuthedRequest, slug: str) -> Response:
        organization, _ = selectors.get_organization_for_user(request.user, slug)
        data = validated(s.InvitationInput, request)
        invitation, key = services.create_invitation(
            organization, role=data["role"], email=data["email"], actor=request.user
        )
        body = invitation_dict(invitation)
        body["accept_url"] = request.build_absolute_uri(reverse("invitation", args=[key]))
        body["key"] = key
        return Response(body, status=status.HTTP_201_CREATED)


class InvitationDetailView(APIView):
    @extend_schema(responses={204: None, **ERRORS, **CONFLICT})
    def delete(self, request: AuthedRequest, slug: str, invitation_id: int) -> Response:
        """Revoke the invitation: its link stops working."""
        organization = selectors.get_organization_for_manager(request.user, slug)
        invitation = selectors.get_invitation(organization, invitation_id)
        services.revoke_invitation(invitation, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AcceptInvitationView(APIView):
    """The authenticated user joins the organisation of the invitation's key (an existing
    member keeps their role). An unknown, expired, used or revoked key: one 404."""

    @extend_schema(
        request=s.AcceptInvitationInput,
        responses={
            200: s.JoinedOut,
            400: ERRORS[400],
            401: ERRORS[401],
            404: OpenApiResponse(
                ErrorOut, description="`invitation_not_valid`: expired, used or revoked."
            ),
        },
    )
    def post(self, request: AuthedRequest) -> Response:
        data = validated(s.AcceptInvitationInput, request)
        membership = services.accept_invitation(data["key"], actor=request.user)
        return Response({**member_dict(membership), "organization": membership.organization.slug})


def token_dict(token) -> dict:
    return {
        "id": token.pk,
        "name": token.name,
        "prefix": token.prefix,
        "created_at": token.created_at,
        "last_used_at": token.last_used_at,
        "expires_at": token.expires_at,
    }


class ApiTokenListView(APIView):
    """The user's own API tokens: list, and create one (optionally expiring)."""

    pagination_class = Pagination

    @extend_schema(responses={200: s.ApiTokenOut(many=True), **ERRORS})
    def get(self, request: AuthedRequest) -> Response:
        return paginated(
            self,
            request,
            selectors.tokens_of_user(request.user),
            lambda p: [token_dict(t) for t in p],
        )

    @extend_schema(request=s.ApiTokenInput, responses={201: s.ApiTokenCreatedOut, **ERRORS})
    def post(self, request: AuthedRequest) -> Response:
        data = validated(s.ApiTokenInput, request)
        token, key = services.create_api_token(
            user=request.user, name=data["name"], expires_at=data["expires_at"]
        )
        return Response({**token_dict(token), "token": key}, status=status.HTTP_201_CREATED)


class ApiTokenDetailView(APIView):
    @extend_schema(responses={200: s.ApiTokenOut, **ERRORS})
    def get(self, request: AuthedRequest, token_id: int) -> Response:
        return Response(token_dict(selectors.get_token_of_user(request.user, token_id)))

    @extend_schema(
        responses={204: None, **ERRORS},
        description="Revoke the token: it stops working at once and its websockets close.",
    )
    def delete(self, request: AuthedRequest, token_id: int) -> Response:
        token = selectors.get_token_of_user(request.user, token_id)
        services.revoke_api_token(token, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
