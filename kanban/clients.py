"""Who is asking: the client's address, for throttles and login lockouts.

The address is the TCP peer's (REMOTE_ADDR) unless TRUSTED_PROXY_COUNT proxies are known to
stand in front (nginx, a load balancer), each appending the address it saw to X-Forwarded-For;
then it is the entry the outermost trusted proxy wrote. Anything further left was written by
the client and proves nothing: trusting it let one client rotate through 40 addresses and never
be throttled. uvicorn runs with --no-proxy-headers, so REMOTE_ADDR is the peer's own. This is
DRF's rule for NUM_PROXIES too (settings set it to the same count), so both agree.
"""

from django.conf import settings


def client_address(meta) -> str:
    remote = meta.get("REMOTE_ADDR", "") or ""
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies <= 0:
        return remote
    forwarded = [a.strip() for a in meta.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
    if not forwarded:
        return remote
    return forwarded[-min(proxies, len(forwarded))]
