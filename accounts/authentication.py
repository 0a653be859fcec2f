from datetime import datetime
from typing import TYPE_CHECKING, NamedTuple

from django.http import HttpRequest
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from accounts.models import ApiToken, User, hash_token_key
from kanban import sql


class TokenAuth(NamedTuple):
    """What DRF keeps as `request.auth` for a token request: which token, until when."""

    id: int
    expires_at: datetime | None


class AuthedRequest(Request):
    """The annotation of an API view's request once the permission classes let it in: every
    API view needs a signed-in user (IsAuthenticated, REST_FRAMEWORK's default), so its
    `request.user` is our User, never AnonymousUser. A type only: DRF hands views plain
    Request objects; views that let anonymous requests in keep `Request`."""

    if TYPE_CHECKING:

        @property
        def user(self) -> User: ...

        @user.setter
        def user(self, value: User) -> None: ...


class AuthedHttpRequest(HttpRequest):
    """The same for a page behind `login_required`: its `request.user` is our User."""

    user: User


_USER_FIELDS = tuple(f.attname for f in User._meta.concrete_fields)
# Every API request asks this: plain SQL (kanban/sql.py), the token and its active user at once.
_TOKEN_USER_SQL = f"""
    SELECT t.id, t.last_used_at, t.expires_at,
        {", ".join(f"u.{f.column}" for f in User._meta.concrete_fields)}
    FROM {ApiToken._meta.db_table} t JOIN {User._meta.db_table} u ON u.id = t.user_id
    WHERE t.key_hash = %s AND u.is_active AND (t.expires_at IS NULL OR t.expires_at > %s)
"""


def authenticate_token_key(key: str) -> tuple[User, TokenAuth] | None:
    """The active user owning `key` and the token, or None when the key is unknown, revoked or
    expired. Records when the token was last used."""
    now = timezone.now()
    row = sql.fetch_one(
        _TOKEN_USER_SQL, [hash_token_key(key), sql.prepare(ApiToken, "expires_at", now)]
    )
    if row is None:
        return None
    token_id = row[0]
    last_used_at, expires_at = sql.convert(ApiToken, ("last_used_at", "expires_at"), row[1:3])
    user = sql.instance(User, _USER_FIELDS, row[3:])
    # At most one write a minute per token: a busy script should not rewrite the row per call.
    if last_used_at is None or (now - last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token_id).update(last_used_at=now)
    return user, TokenAuth(token_id, expires_at)


class ApiTokenAuthentication(BaseAuthentication):
    """`Authorization: Token <key>`, checked against the stored SHA-256 of the key."""

    keyword = "Token"

    def authenticate(self, request):
        auth = get_authorization_header(request).split()
        if not auth or auth[0].lower() != self.keyword.lower().encode():
            return None
        if len(auth) != 2:
            raise exceptions.AuthenticationFailed(
                "Invalid token header: expected 'Authorization: Token <key>'."
            )
        try:
            key = auth[1].decode()
        except UnicodeError as exc:
            raise exceptions.AuthenticationFailed("Invalid token header.") from exc
        found = authenticate_token_key(key)
        if found is None:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked token.")
        return found

    def authenticate_header(self, request):
        return self.keyword


class TokenAuthMiddleware:
    """Websocket authentication by `Authorization: Token <key>` for scripts; browsers keep
    the session cookie (AuthMiddlewareStack, which wraps this). A token that does not check
    out leaves the connection anonymous, so the consumer refuses it, even with a session.
    A token that checks out is kept in the scope (`token`), so that the socket closes when the
    token is revoked or expires."""

    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        header = dict(scope.get("headers") or []).get(b"authorization", b"")
        parts = header.split()
        if parts and parts[0].lower() == b"token":
            from channels.db import database_sync_to_async
            from django.contrib.auth.models import AnonymousUser

            found = None
            if len(parts) == 2:
                try:
                    found = await database_sync_to_async(authenticate_token_key)(parts[1].decode())
                except UnicodeDecodeError:
                    found = None
            user, token = found or (AnonymousUser(), None)
            scope = {**scope, "user": user, "token": token}
        return await self.inner(scope, receive, send)
