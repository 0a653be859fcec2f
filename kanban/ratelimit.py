"""Rate limits on the REST API: per token, per user, and per client address for requests
without credentials (the token endpoint, where passwords are tried).

Each is a fixed window counted in Redis (kanban.counters: one round trip for all of a
request's limits). An answer past a limit is 429 `throttled` with Retry-After; every answer to
a counted request carries the tightest limit's `RateLimit-Limit`, `RateLimit-Remaining`,
`RateLimit-Reset` (seconds) and `RateLimit-Policy` (`<limit>;w=<window>`), so that scripts can
slow down before they are refused. Rates are settings (API_RATE_TOKEN, API_RATE_USER,
API_RATE_ANON, LOGIN_RATE), e.g. "1200/min".
"""

from dataclasses import dataclass

from django.conf import settings
from rest_framework.throttling import BaseThrottle

from accounts.authentication import TokenAuth
from kanban import counters
from kanban.clients import client_address

_UNITS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600}
_UNITS |= {"hour": 3600, "d": 86_400, "day": 86_400}


def parse_rate(rate: str) -> tuple[int, int]:
    """ "1200/min" -> (1200, 60): requests allowed, and the window in seconds."""
    count, _, unit = rate.partition("/")
    return int(count), _UNITS[unit.strip().lower()]


@dataclass(frozen=True)
class Limit:
    limit: int
    window: int
    remaining: int
    reset: int


class ApiRateThrottle(BaseThrottle):
    """The API's default throttle (REST_FRAMEWORK's DEFAULT_THROTTLE_CLASSES)."""

    def limits(self, request) -> list[tuple[str, str]]:
        """The (key, rate) pairs this request counts against."""
        user = request.user
        if user is not None and user.is_authenticated:
            keys = [(f"api:user:{user.pk}", settings.API_RATE_USER)]
            if isinstance(request.auth, TokenAuth):
                keys.append((f"api:token:{request.auth.id}", settings.API_RATE_TOKEN))
            return keys
        return [(f"api:anon:{client_address(request.META)}", settings.API_RATE_ANON)]

    def allow_request(self, request, view) -> bool:
        pairs = [(key, parse_rate(rate)) for key, rate in self.limits(request)]
        counts = counters.hit(*((key, window) for key, (_, window) in pairs))
        tightest = min(
            (
                Limit(limit, window, max(0, limit - count.count), count.reset)
                for (_, (limit, window)), count in zip(pairs, counts, strict=True)
            ),
            key=lambda limit: (limit.remaining, -limit.reset),
        )
        request._request.ratelimit = tightest  # for RateLimitHeadersMiddleware
        over = [
            count
            for (_, (limit, _)), count in zip(pairs, counts, strict=True)
            if count.count > limit
        ]
        self._wait = max((count.reset for count in over), default=None)
        return not over

    def wait(self) -> float | None:
        return self._wait


class LoginRateThrottle(ApiRateThrottle):
    """Password tries on the token endpoint, per client address (LOGIN_RATE); the lockout of
    accounts.lockout limits them per account besides."""

    def limits(self, request) -> list[tuple[str, str]]:
        return [(f"login:address:{client_address(request.META)}", settings.LOGIN_RATE)]


class RateLimitHeadersMiddleware:
    """Adds the RateLimit headers to the answers of requests a throttle counted."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        limit = getattr(request, "ratelimit", None)
        if limit is not None:
            response["RateLimit-Limit"] = str(limit.limit)
            response["RateLimit-Remaining"] = str(limit.remaining)
            response["RateLimit-Reset"] = str(limit.reset)
            response["RateLimit-Policy"] = f"{limit.limit};w={limit.window}"
        return response
