"""A brake on password guessing, for every way in: the login form, the admin's login and the
API's token endpoint all authenticate through accounts.backends.LockoutModelBackend, which
asks here.

Failures are counted per canonical username, so that " carol", "carol\t" and a full-width
"carol" (which Django's login form normalises to "carol" before checking the password) all count
against carol: per client address (LOGIN_FAILURES_PER_ADDRESS in the window) and across all
addresses (LOGIN_FAILURES_PER_USER, against guessing spread over many addresses). A locked-out
attempt is refused without checking the password, whether or not it is right.
"""

import unicodedata

from django.conf import settings

from kanban import counters
from kanban.clients import client_address

WINDOW_SECONDS = 15 * 60


def canonical_username(raw: str) -> str:
    """The name as Django's login form reads it (NFKC, surrounding whitespace stripped),
    case-folded: usernames are unique regardless of case (accounts.services.create_user)."""
    return unicodedata.normalize("NFKC", raw or "").strip().casefold()


def _keys(request, username: str) -> list[tuple[str, int]]:
    name = canonical_username(username)
    address = client_address(request.META) if request is not None else ""
    return [
        (f"login:user:{name}", WINDOW_SECONDS),
        (f"login:pair:{address}:{name}", WINDOW_SECONDS),
    ]


def retry_after(request, username: str) -> int | None:
    """Seconds until `username` may try again from this request's address, or None if it may
    try now."""
    by_user, by_pair = counters.hit(*_keys(request, username), add=0)
    if (
        by_user.count >= settings.LOGIN_FAILURES_PER_USER
        or by_pair.count >= settings.LOGIN_FAILURES_PER_ADDRESS
    ):
        return max(by_user.reset, by_pair.reset)
    return None


def record_failure(request, username: str) -> None:
    counters.hit(*_keys(request, username))


def record_success(request, username: str) -> None:
    """A right password from this address: its failures are forgiven (not those elsewhere)."""
    counters.clear(_keys(request, username)[1])
