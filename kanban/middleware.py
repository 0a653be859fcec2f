import re

from django.conf import settings
from django.http import JsonResponse

# The paths allowed a larger body than DATA_UPLOAD_MAX_MEMORY_SIZE, and the setting that limits
# each: only imports of other tools' exports. Their views read the body with the same limit.
LARGER_BODIES = ((re.compile(r"^/api/v1/orgs/[^/]+/import/trello/$"), "IMPORT_MAX_BYTES"),)


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
