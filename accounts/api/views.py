"""The REST API for the user, organisations, teams, members and tokens."""

from django.contrib.auth import authenticate
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from accounts import selectors, services
from accounts.api import schema  # noqa: F401  (registers the token scheme for the OpenAPI schema)
from accounts.api import serializers as s
from accounts.models import User
from boards.api.serializers import ErrorOut
from boards.api.views import ERRORS, paginated, validated
from kanban.api import Pagination
from kanban.exceptions import DomainError, InvalidInput

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
    # Throttled per client address: a password endpoint is what gets brute-forced.
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "login"

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
            raise InvalidCredentials()
        _, key = services.create_api_token(user=user, name=data["name"] or "api")
        return Response({"token": key}, status=status.HTTP_201_CREATED)


class MeView(APIView):
    @extend_schema(responses={200: s.MeOut, 401: ERRORS[401]})
    def get(self, request: Request) -> Response:
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
    def get(self, request: Request) -> Response:
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
    def post(self, request: Request) -> Response:
        data = validated(s.OrganizationInput, request)
        organization = services.create_organization(
            name=data["name"], slug=data["slug"], actor=request.user
        )
        return Response(organization_dict(organization, "owner"), status=status.HTTP_201_CREATED)


class OrganizationDetailView(APIView):
    @extend_schema(responses={200: s.OrganizationOut, **ERRORS})
    def get(self, request: Request, slug: str) -> Response:
        organization, access = selectors.get_organization_for_user(request.user, slug)
        return Response(organization_dict(organization, access.role))


class TeamListView(APIView):
    pagination_class = Pagination

    @extend_schema(responses={200: s.TeamOut(many=True), **ERRORS})
    def get(self, request: Request, slug: str) -> Response:
        organization, _ = selectors.get_organization_for_user(request.user, slug)
        teams = selectors.teams_of_organization(organization).select_related("organization")
        return paginated(self, request, teams, lambda page: [team_dict(t) for t in page])

    @extend_schema(request=s.TeamInput, responses={201: s.TeamOut, **ERRORS, **CONFLICT})
    def post(self, request: Request, slug: str) -> Response:
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
    def get(self, request: Request, slug: str) -> Response:
        organization, _ = selectors.get_organization_for_user(request.user, slug)
        return paginated(
            self,
            request,
            selectors.members_of_organization(organization),
            lambda page: [member_dict(m) for m in page],
        )

    @extend_schema(request=s.MemberInput, responses={201: s.MemberOut, **ERRORS, **CONFLICT})
    def post(self, request: Request, slug: str) -> Response:
        organization, _ = selectors.get_organization_for_user(request.user, slug)
        data = validated(s.MemberInput, request)
        user = User.objects.filter(username=data["username"]).first()
        if user is None:
            raise InvalidInput(
                f"There is no user {data['username']!r}.", fields={"username": ["Unknown user."]}
            )
        membership = services.add_member(
            organization,
            user=user,
            role=data["role"],
            wip_limit=data.get("wip_limit", services.UNSET),
            actor=request.user,
        )
        return Response(member_dict(membership), status=status.HTTP_201_CREATED)
