"""The websocket Origin check (against cross-site websocket hijacking).

A browser sends its page's origin on every websocket handshake, and sends the session cookie
whatever page opened the socket: a socket is accepted only from a page of this very site, its
scheme, host and port matched exactly (Channels' OriginValidator compares the host alone, so
`http://127.0.0.1:9999` or `https://127.0.0.1` passed for `http://127.0.0.1:8000`), or from an
origin listed in CSRF_TRUSTED_ORIGINS (as Django's CSRF check allows for forms). A handshake
without an Origin is a script, not a browser: it cannot ride anyone's cookie, so it goes on to
authenticate (a token) like any other.
"""

from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host

_DEFAULT_PORTS = {"http": 80, "https": 443}

Origin = tuple[str, str, int]  # scheme, host, port


def parse_origin(value: str) -> Origin | None:
    parts = urlsplit(value.strip())
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname or parts.path not in ("", "/"):
        return None
    try:
        port = parts.port or _DEFAULT_PORTS[parts.scheme]
    except ValueError:
        return None
    return parts.scheme, parts.hostname.lower(), port


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin1")
    return None


def _allowed_hosts() -> list[str]:
    hosts = list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not hosts:
        hosts = [".localhost", "127.0.0.1", "[::1]"]
    return hosts


def own_origin(scope) -> Origin | None:
    """The origin of pages of this site, as the handshake reached us: its scheme (the proxy's,
    behind a trusted one), and its Host if that is an allowed host."""
    host = _header(scope, b"host") or ""
    domain, _ = split_domain_port(host)
    if not domain or not validate_host(domain, _allowed_hosts()):
        return None
    scheme = "https" if scope.get("scheme") == "wss" else "http"
    forwarded = _header(scope, b"x-forwarded-proto")
    if settings.TRUSTED_PROXY_COUNT > 0 and forwarded:
        scheme = "https" if forwarded.split(",")[0].strip().lower() == "https" else "http"
    return parse_origin(f"{scheme}://{host}")


def _trusted(origin: Origin) -> bool:
    scheme, host, port = origin
    for entry in settings.CSRF_TRUSTED_ORIGINS:
        wildcard = "://*." in entry
        trusted = parse_origin(entry.replace("://*.", "://", 1))
        if trusted is None or (trusted[0], trusted[2]) != (scheme, port):
            continue
        if host == trusted[1] or (wildcard and host.endswith("." + trusted[1])):
            return True
    return False


def origin_allowed(scope) -> bool:
    value = _header(scope, b"origin")
    if value is None:
        return True  # not a browser (see the module's docstring)
    origin = parse_origin(value)
    return origin is not None and (origin == own_origin(scope) or _trusted(origin))


class SameOriginValidator:
    def __init__(self, application) -> None:
        self.application = application

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket" and not origin_allowed(scope):
            denier = WebsocketDenier()
            return await denier(scope, receive, send)
        return await self.application(scope, receive, send)


def origin_checked(application):
    return SameOriginValidator(application)
