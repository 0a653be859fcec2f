import re

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.http import JsonResponse
from django.utils.cache import patch_cache_control, patch_vary_headers
from django.views import defaults

from kanban import api

# The paths allowed a larger body than DATA_UPLOAD_MAX_MEMORY_SIZE, and the setting that limits
# each: only imports of other tools' exports, through the API or the import page's upload.
# Their views read the body with the same limit.
LARGER_BODIES = (
    (re.compile(r"^/api/v1/orgs/[^/]+/import/trello/$"), "IMPORT_MAX_BYTES"),
    (re.compile(r"^/o/[^/]+/import/$"), "IMPORT_MAX_BYTES"),
)


def body_limit(path: str) -> int | None:
    for pattern, setting in LARGER_BODIES:
        if pattern.match(path):
            return getattr(settings, setting)
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


class RequestBodyLimitMiddleware:
    """Answer 413 before reading a body that declares itself larger than the limit.

    Django would raise RequestDataTooBig only once the body is read and answer 400; a client
    sending 10 MB deserves the right status and should not make us read it. A body sent
    without a Content-Length is read by the server (kanban/http.py) only up to the same limit.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = body_limit(request.path_info)
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if limit is not None and length > limit:
            return payload_too_large(limit)
        return self.get_response(request)


def payload_too_large(limit: int) -> JsonResponse:
    return JsonResponse(
        {
            "code": "payload_too_large",
            "detail": f"The request body is larger than the limit of {limit} bytes.",
        },
        status=413,
    )


NUL_IN_QUERY = "Null characters are not allowed."


class QueryStringMiddleware:
    """Answer 400 to a query string holding a NUL (%00), for every path at once.

    Postgres refuses NUL in text, so any filter, search or slug taken from the query string
    would otherwise end in a 500 (DataError) wherever it reaches a query. Under /api/ the
    answer is the API's JSON error naming the parameter; pages get Django's 400 page."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        raw = request.META.get("QUERY_STRING", "")
        name = _parameter_with_nul(request.GET) if "%00" in raw or "\x00" in raw else None
        if name is None:
            return self.get_response(request)
        if not api.is_api_request(request):
            return defaults.bad_request(request, SuspiciousOperation("A NUL in the query string."))
        if "\x00" in name:  # the name itself: not echoed
            return api.error_json(
                "invalid", NUL_IN_QUERY, 400, {"non_field_errors": [NUL_IN_QUERY]}
            )
        return api.error_json("invalid", f"{name}: {NUL_IN_QUERY}", 400, {name: [NUL_IN_QUERY]})


def _parameter_with_nul(query) -> str | None:
    for name, values in query.lists():
        if "\x00" in name or any("\x00" in value for value in values):
            return name
    return None


class SecurityHeadersMiddleware:
    """The response headers Django's SecurityMiddleware and django-csp do not set.

    - `Permissions-Policy` (settings.PERMISSIONS_POLICY): no page uses the camera, the
      microphone, geolocation, payments or USB, so no page, nor anything injected into one, may.
    - Secure session and CSRF cookies on a request that came over HTTPS, even with `HTTPS` off
      (settings only make them Secure everywhere, or nowhere).
    - `Cache-Control: private, no-cache` and `Vary: Cookie, Authorization` on every answer to an
      authenticated request (a session user, or credentials in `Authorization`), unless the
      view chose its own Cache-Control: a board is one user's view of their organisation and
      must not be kept by a shared cache.

    It sits below WhiteNoise (static files keep their own long-lived caching) and above the
    session and CSRF middleware, so that it sees the cookies they set on the way out. It runs
    after the view, when DRF has put the user its authentication found on `request.user`.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if settings.PERMISSIONS_POLICY and "Permissions-Policy" not in response:
            response["Permissions-Policy"] = settings.PERMISSIONS_POLICY
        if request.is_secure():
            for name in (settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME):
                if name in response.cookies:
                    response.cookies[name]["secure"] = True
        if is_authenticated_request(request):
            if "Cache-Control" not in response:
                patch_cache_control(response, private=True, no_cache=True)
            patch_vary_headers(response, ("Cookie", "Authorization"))
        return response


def is_authenticated_request(request) -> bool:
    if request.META.get("HTTP_AUTHORIZATION"):
        return True
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated)
