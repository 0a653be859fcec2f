"""Cross-cutting pieces of the REST API: pagination, the one exception handler that turns
every error into `{"code", "detail", "fields"}`, and the same body for the errors Django answers
itself under /api/ (an unhandled exception, a CSRF failure, an unknown path), so that an API
client never gets an HTML page."""

import logging
import typing
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import csrf, defaults
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param
from rest_framework.views import APIView

from kanban import cursors
from kanban.exceptions import DomainError

logger = logging.getLogger(__name__)


class Pagination(PageNumberPagination):
    """Page numbers (`?page=`), as the lists have always answered; or, opt-in, keyset paging
    (`?cursor=`, empty for the first page: kanban/cursors.py), whose answer adds `has_more`
    and `next_cursor` and whose `next` carries the cursor (`previous` is null: it pages
    forward). A view with `seq_param` (the board's events: `after_seq`) pages by its seq the
    same way, `next` carrying the last seq. Every answer has a `Link` header (RFC 8288) with
    its `next` (and `prev`) link."""

    page_size_query_param = "page_size"
    max_page_size = 500
    cursor_query_param = "cursor"

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        seq_param = getattr(view, "seq_param", None)
        if seq_param and seq_param in request.query_params:
            self.keyset = seq_param
        elif self.cursor_query_param in request.query_params:
            self.keyset = self.cursor_query_param
        else:
            self.keyset = None
            return super().paginate_queryset(queryset, request, view)
        if not isinstance(queryset, QuerySet):
            raise cursors.CursorNotSupported()
        # REST_FRAMEWORK's PAGE_SIZE is set, so this is never None; the stubs cannot know
        size = self.get_page_size(request) or 50
        if self.keyset == self.cursor_query_param:
            rows, fields = cursors.after(queryset, request.query_params[self.cursor_query_param])
        else:
            rows, fields = queryset, None  # the view has filtered it after the seq, in seq order
        self.count = queryset.count()
        page = list(rows[: size + 1])
        self.has_more = len(page) > size
        page = page[:size]
        self.next_cursor = None
        if self.has_more:
            last = page[-1]
            self.next_cursor = cursors.encode(fields, last) if fields else str(last.seq)
        return page

    def get_paginated_response(self, data):
        if self.keyset is None:
            response = super().get_paginated_response(data)
            links = [(self.get_next_link(), "next"), (self.get_previous_link(), "prev")]
        else:
            assert self.request is not None  # paginate_queryset ran first
            url = self.request.build_absolute_uri()
            next_url = (
                replace_query_param(url, self.keyset, self.next_cursor)
                if self.next_cursor
                else None
            )
            response = Response(
                {
                    "count": self.count,
                    "next": next_url,
                    "previous": None,
                    "results": data,
                    "has_more": self.has_more,
                    "next_cursor": self.next_cursor,
                }
            )
            links = [(next_url, "next")]
        link = ", ".join(f'<{url}>; rel="{rel}"' for url, rel in links if url)
        if link:
            response["Link"] = link
        return response

    def get_schema_operation_parameters(self, view):
        """The `page` and `page_size` parameters, with their bounds, and `cursor` (the schema
        of every paginated list, through drf-spectacular)."""
        page, page_size = super().get_schema_operation_parameters(view)
        page["schema"]["minimum"] = 1
        page["description"] = "A page number, from 1; past the last page answers 404."
        page_size["description"] = (
            f"Results per page: default {self.page_size}, at most {self.max_page_size} (more "
            "gives that many; a value that is not a positive integer, the default)."
        )
        cursor = {
            "name": self.cursor_query_param,
            "required": False,
            "in": "query",
            "description": (
                "Keyset paging instead of page numbers: empty for the first page, then the "
                "answer's `next_cursor`. Rows inserted meanwhile are neither repeated nor "
                "skipped. Not on the ranked text search (400 cursor_not_supported)."
            ),
            "schema": {"type": "string"},
        }
        return [page, page_size, cursor]

    def get_paginated_response_schema(self, schema):
        paginated = super().get_paginated_response_schema(schema)
        paginated["required"] = ["count", "next", "previous", "results"]  # always all four
        paginated["properties"]["has_more"] = {
            "type": "boolean",
            "description": "Keyset paging only (`cursor`, `after_seq`): more rows follow.",
        }
        paginated["properties"]["next_cursor"] = {
            "type": "string",
            "nullable": True,
            "description": "Keyset paging only: the `cursor` (or `after_seq`) of the next page.",
        }
        return paginated


def _flatten(detail: Any) -> Any:
    """DRF error details as plain strings (lists of messages per field, nested for lists)."""
    if isinstance(detail, dict):
        return {key: _flatten(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_flatten(item) for item in detail]
    return str(detail)


def _first_message(fields: dict[str, Any]) -> str:
    for name, messages in fields.items():
        message = messages
        while isinstance(message, list | dict):
            if not message:
                break
            message = message[0] if isinstance(message, list) else next(iter(message.values()))
        if name == "non_field_errors":
            return str(message)
        return f"{name}: {message}"
    return "The request is not valid."


def error_response(code: str, detail: str, status_code: int, fields=None, headers=None):
    body: dict[str, Any] = {"code": code, "detail": detail}
    if fields:
        body["fields"] = fields
    return Response(body, status=status_code, headers=headers)


def is_api_request(request: HttpRequest) -> bool:
    return request.path_info.startswith("/api/")


def error_json(code: str, detail: str, status_code: int, fields=None) -> JsonResponse:
    """The error body for responses made outside DRF (middleware, Django's handlers)."""
    body: dict[str, Any] = {"code": code, "detail": detail}
    if fields:
        body["fields"] = fields
    return JsonResponse(body, status=status_code)


CSRF_DETAIL = (
    "CSRF check failed ({reason}): a write with a browser session needs the X-CSRFToken "
    "header; scripts should authenticate with an API token instead."
)


# Postgres' deadlock, serialization failure and foreign-key violation.
_CONCURRENCY_SQLSTATES = frozenset({"40P01", "40001", "23503"})


def _concurrent_change(exc: DatabaseError) -> bool:
    return getattr(exc.__cause__, "sqlstate", None) in _CONCURRENCY_SQLSTATES


def exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, DomainError):
        response = error_response(exc.code, exc.detail, exc.status, exc.fields)
        response.data.update(exc.extra)
        return response
    if isinstance(exc, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return error_response(
            "payload_too_large",
            f"The request body is larger than the limit of {limit} bytes.",
            status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, DatabaseError) and _concurrent_change(exc):
        # The services lock so that a concurrent change ends in a domain error (a deleted
        # board is not found); this is the net under them: a write that still collided with
        # another (a deadlock, a row deleted under a foreign key) can be retried as it is.
        logger.warning("Concurrent change answered 409: %s", exc)
        return error_response(
            "conflict",
            "The board changed at the same moment in a way that conflicts with this request: "
            "reload and retry.",
            status.HTTP_409_CONFLICT,
        )
    if not isinstance(exc, exceptions.APIException):
        return None  # a bug: let Django answer 500 and log it

    headers = {}
    if auth_header := getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = auth_header
    if wait := getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(wait))

    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        fields = _flatten(detail)
        return error_response("invalid", _first_message(fields), exc.status_code, fields, headers)
    if isinstance(exc, exceptions.PermissionDenied) and str(exc.detail).startswith("CSRF Failed: "):
        # DRF's SessionAuthentication.enforce_csrf raises exactly this for a session write
        # without a valid token; Django's CSRF_FAILURE_VIEW is never involved for DRF views.
        reason = str(exc.detail).removeprefix("CSRF Failed: ").rstrip(".")
        return error_response("csrf_failed", CSRF_DETAIL.format(reason=reason), exc.status_code)
    if isinstance(exc, exceptions.ParseError):
        return error_response("malformed_request", str(exc.detail), exc.status_code)
    codes = exc.get_codes()
    code = codes if isinstance(codes, str) else exc.default_code
    return error_response(code, str(exc.detail), exc.status_code, headers=headers)


# --- Django's own error views, JSON under /api/ (kanban.urls, CSRF_FAILURE_VIEW) -------------


@csrf_exempt
def not_found(request: HttpRequest, exception=None, rest: str = "") -> HttpResponse:
    """Unknown /api/ paths, whatever the method: exempt from CSRF, or an unknown path written
    to would answer Django's HTML 403 instead of this 404."""
    if is_api_request(request):
        return error_json("not_found", "Not found.", 404)
    return defaults.page_not_found(request, exception)


def bad_request(request: HttpRequest, exception=None) -> HttpResponse:
    if is_api_request(request):
        return error_json("bad_request", "The request could not be understood.", 400)
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception=None) -> HttpResponse:
    if is_api_request(request):
        return error_json("permission_denied", "You do not have permission to do this.", 403)
    return defaults.permission_denied(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """An unhandled exception (Django has logged it by now, as django.request's error)."""
    if is_api_request(request):
        return error_json(
            "server_error", "Something went wrong on our side; it has been logged.", 500
        )
    return defaults.server_error(request)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: Django's CSRF middleware refused the request (views outside DRF)."""
    if is_api_request(request):
        return error_json("csrf_failed", CSRF_DETAIL.format(reason=reason.rstrip(".")), 403)
    return csrf.csrf_failure(request, reason)


# --- shared by every API view: the error shape in the schema, validation, pagination ---------


class ErrorOut(serializers.Serializer):
    code = serializers.CharField()
    detail = serializers.CharField()
    # Named like Serializer.fields, which it does not hide: DRF's metaclass takes declared fields
    # out of the class's attributes.
    fields = serializers.DictField(required=False)  # type: ignore[assignment]


ERRORS = {
    400: OpenApiResponse(ErrorOut, description="Invalid input (`code`: invalid)."),
    401: OpenApiResponse(ErrorOut, description="No or bad credentials."),
    403: OpenApiResponse(ErrorOut, description="Read-only for you (viewer, not on the team)."),
    404: OpenApiResponse(ErrorOut, description="Not found, or of another organisation."),
}
CONFLICT = {409: OpenApiResponse(ErrorOut, description="`wip_limit_exceeded` or `conflict`.")}


def validated(serializer_class, request: Request, *, partial: bool = False) -> dict[str, Any]:
    serializer = serializer_class(data=request.data, partial=partial)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def paginated(view: APIView, request: Request, queryset, to_dicts) -> Response:
    """A page of `queryset` as `{"count", "next", "previous", "results"}`, through the view's
    `pagination_class`: the attribute drf-spectacular reads to document the GET as paginated
    (a Paginated<X>List body and the `page` and `page_size` parameters), so a view cannot
    paginate without saying so in the schema."""
    paginator = view.pagination_class()  # type: ignore[attr-defined]  # GenericAPIView declares it
    page = paginator.paginate_queryset(queryset, request, view=view)
    return paginator.get_paginated_response(to_dicts(page))


# --- output shapes ---------------------------------------------------------------------------

_PLAIN_FIELDS: dict[Any, type[serializers.Field]] = {
    int: serializers.IntegerField,
    str: serializers.CharField,
    bool: serializers.BooleanField,
    float: serializers.FloatField,
}


def shape_serializer(
    shape: type, *, name: str | None = None, **fields: serializers.Field
) -> type[serializers.Serializer]:
    """The schema-only serializer of a TypedDict that selectors build: one field per key, in
    the TypedDict's order, so that the keys are declared once (the TypedDict, which mypy holds
    the builders to) and the schema cannot drift from the JSON.

    A key's field comes from its annotation (int, str, bool, float, list[int], `X | None` for
    null) unless `fields` gives one: what a plain annotation cannot say (a date-time string,
    choices, a nested shape, a help text). A field given must be a key of the shape, and null
    exactly where the annotation allows None."""
    hints = typing.get_type_hints(shape)
    unknown = set(fields) - set(hints)
    assert not unknown, f"{shape.__name__} has no {sorted(unknown)}"
    declared: dict[str, serializers.Field] = {}
    for key, hint in hints.items():
        args = typing.get_args(hint)
        nullable = type(None) in args
        if key in fields:
            field = fields[key]
            assert field.allow_null == nullable, f"{shape.__name__}.{key}: null is {nullable}"
        else:
            plain = next((a for a in args if a is not type(None)), hint) if nullable else hint
            if typing.get_origin(plain) is list:
                (item,) = typing.get_args(plain)
                field = serializers.ListField(child=_PLAIN_FIELDS[item](), allow_null=nullable)
            else:
                field = _PLAIN_FIELDS[plain](allow_null=nullable)
        declared[key] = field
    serializer = type(name or shape.__name__, (serializers.Serializer,), dict(declared))
    # In the shape's order: DRF's metaclass would sort the fields by creation, putting the
    # ones `fields` gives first.
    serializer._declared_fields = declared  # type: ignore[attr-defined]  # the metaclass's
    return serializer
