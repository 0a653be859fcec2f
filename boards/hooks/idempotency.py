"""`Idempotency-Key` on the API's POSTs (the IETF httpapi draft's header): a client that
retries a POST with the same key gets the first answer again, saved for IDEMPOTENCY_TTL,
instead of making the change twice.

- The key is scoped to the client's credential (a hash of its `Authorization` header, or its
  session's user): one client cannot see or collide with another's. Unauthenticated POSTs
  (the token endpoint) are not kept.
- The same key with another method, path or body answers 422 `idempotency_key_reused`; while
  the first request still runs, 409 `idempotency_key_in_use` (retry later).
- Answers that say the request did not happen are not kept, so that a retry runs it: 5xx,
  401, 403 (credentials, CSRF), 409 (a conflict of the moment) and 429. Everything else (2xx,
  400, 404, 413 ...) is replayed, with the `Idempotent-Replayed: true` header.
- A row whose first request never finished (its process died) is given up after
  _ABANDONED_AFTER and the key runs again.

A middleware, not a DRF mixin: it covers every POST under /api/ of both apps without touching
their views. The row is written before the view runs, in its own transaction (autocommit),
so that a concurrent retry finds it.
"""

import hashlib
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from boards.models import IdempotencyKey
from kanban.api import error_json

HEADER = "HTTP_IDEMPOTENCY_KEY"
_NOT_KEPT = frozenset({401, 403, 409, 429})
_ABANDONED_AFTER = timedelta(minutes=5)


def _scope(request: HttpRequest) -> str | None:
    credential = request.META.get("HTTP_AUTHORIZATION", "")
    if credential:
        raw = f"authorization:{credential}"
    elif request.user.is_authenticated:
        raw = f"user:{request.user.pk}"
    else:
        return None
    return hashlib.sha256(raw.encode()).hexdigest()


def _fingerprint(request: HttpRequest) -> str:
    digest = hashlib.sha256()
    digest.update(f"{request.method} {request.get_full_path()}\n".encode())
    digest.update(request.body)
    return digest.hexdigest()


def _replay(row: IdempotencyKey) -> HttpResponse:
    response = HttpResponse(
        bytes(row.response_body), status=row.status_code, content_type=row.content_type or None
    )
    if row.location:
        response["Location"] = row.location
    response["Idempotent-Replayed"] = "true"
    return response


def purge_expired() -> int:
    """Delete the answers older than IDEMPOTENCY_TTL (a daily task)."""
    cutoff = timezone.now() - timedelta(seconds=settings.IDEMPOTENCY_TTL)
    return IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()[0]


class IdempotencyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        key = request.META.get(HEADER)
        if key is None or request.method != "POST" or not request.path_info.startswith("/api/"):
            return self.get_response(request)
        if not (0 < len(key) <= 255 and key.isascii() and key.isprintable()):
            return error_json(
                "invalid",
                "Idempotency-Key must be 1 to 255 printable ASCII characters.",
                400,
                fields={"Idempotency-Key": ["1 to 255 printable ASCII characters."]},
            )
        scope = _scope(request)
        if scope is None:
            return self.get_response(request)
        try:
            fingerprint = _fingerprint(request)
        except RequestDataTooBig:  # answered 413 further in, and nothing to keep
            return self.get_response(request)
        now = timezone.now()
        try:
            with transaction.atomic():  # a savepoint where a transaction is already open
                row = IdempotencyKey.objects.create(scope=scope, key=key, fingerprint=fingerprint)
        except IntegrityError:
            found = IdempotencyKey.objects.filter(scope=scope, key=key).first()
            if found is None:  # deleted meanwhile: run it
                return self.get_response(request)
            row = found
            expired = row.created_at < now - timedelta(seconds=settings.IDEMPOTENCY_TTL)
            abandoned = row.status_code is None and row.created_at < now - _ABANDONED_AFTER
            if not (expired or abandoned):
                if row.fingerprint != fingerprint:
                    return error_json(
                        "idempotency_key_reused",
                        "This Idempotency-Key was used with another request (method, path "
                        "or body); use a new key for a new request.",
                        422,
                    )
                if row.status_code is None:
                    return error_json(
                        "idempotency_key_in_use",
                        "A request with this Idempotency-Key is still running; retry later.",
                        409,
                    )
                return _replay(row)
            # Past its time: this request takes the key over.
            taken = IdempotencyKey.objects.filter(pk=row.pk, created_at=row.created_at).update(
                fingerprint=fingerprint, status_code=None, response_body=b"", created_at=now
            )
            if not taken:
                return error_json(
                    "idempotency_key_in_use",
                    "A request with this Idempotency-Key is still running; retry later.",
                    409,
                )
        response = self.get_response(request)
        keep = (
            response.status_code < 500
            and response.status_code not in _NOT_KEPT
            and not response.streaming
        )
        if keep:
            IdempotencyKey.objects.filter(pk=row.pk).update(
                status_code=response.status_code,
                response_body=response.content,
                content_type=response.get("Content-Type", ""),
                location=response.get("Location", ""),
            )
        else:
            IdempotencyKey.objects.filter(pk=row.pk).delete()
        return response
