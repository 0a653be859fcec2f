"""Sending one webhook request, to a public address only.

The host is resolved at send time (not when the hook was saved: DNS can change, which is the
whole of a rebinding attack) and every address it resolves to must be public: loopback,
private, link-local (cloud metadata at 169.254.169.254), multicast, reserved and unspecified
addresses are refused, unless WEBHOOK_ALLOW_PRIVATE is set (the tests' local receiver, a
private deployment). The connection then goes to the address that was checked, never to a
second lookup of the name; TLS still verifies the certificate against the host name.
Redirects are not followed: a 3xx is an answer like any other non-2xx.
"""

import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

USER_AGENT = "Obeya-Webhooks/1"
# What is kept of a response body in the delivery log (the receiver's error, for a person).
_EXCERPT = 200


class BlockedAddress(Exception):
    """The URL names an address that webhooks may not reach."""


@dataclass(frozen=True)
class Outcome:
    status_code: int | None  # None: no HTTP answer (timeout, refused, blocked)
    error: str
    duration_ms: int
    timed_out: bool = False
    blocked: bool = False

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def check_url_syntax(url: str) -> str | None:
    """Why the URL cannot be a webhook's (a sentence), or None. Only the form is checked here;
    the address is checked at send time."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return "The URL must start with http:// or https://."
    if not parts.hostname:
        return "The URL has no host."
    if parts.username or parts.password:
        return "The URL must not carry a user name or password."
    try:
        parts.port  # noqa: B018 (raises on a port out of range)
    except ValueError:
        return "The URL's port is not valid."
    return None


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def resolve(host: str, port: int) -> str:
    """The first address of `host` after checking all of them (BlockedAddress otherwise)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise OSError(f"cannot resolve {host}: {exc.strerror}") from exc
    addresses = [str(info[4][0]) for info in infos]
    if not getattr(settings, "WEBHOOK_ALLOW_PRIVATE", False):
        for address in addresses:
            if not _public(address):
                raise BlockedAddress(f"{host} resolves to {address}, which is not a public address")
    return addresses[0]


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        context = self._context  # type: ignore[attr-defined]  # HTTPSConnection's own, unstubbed
        self.sock = context.wrap_socket(sock, server_hostname=self.host)


def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float) -> Outcome:
    """POST `body` to `url`; never raises for what the network or the receiver does."""
    started = time.monotonic()

    def took() -> int:
        return int((time.monotonic() - started) * 1000)

    parts = urlsplit(url)
    https = parts.scheme == "https"
    host = parts.hostname or ""
    port = parts.port or (443 if https else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        address = resolve(host, port)
        cls = _PinnedHTTPSConnection if https else _PinnedHTTPConnection
        connection = cls(host, port, address, timeout)
        try:
            connection.request(
                "POST",
                path,
                body=body,
                headers={
                    **headers,
                    "Content-Type": "application/json",
                    "User-Agent": USER_AGENT,
                },
            )
            response = connection.getresponse()
            excerpt = response.read(_EXCERPT).decode("utf-8", "replace")
            status = response.status
        finally:
            connection.close()
    except BlockedAddress as exc:
        return Outcome(None, str(exc), took(), blocked=True)
    except TimeoutError:
        return Outcome(None, f"no answer within {timeout:g} s", took(), timed_out=True)
    except (OSError, http.client.HTTPException) as exc:
        return Outcome(None, f"{type(exc).__name__}: {exc}"[:300], took())
    error = "" if 200 <= status < 300 else f"HTTP {status}: {excerpt}"[:300]
    return Outcome(status, error, took())
