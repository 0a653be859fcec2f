"""Counters over time windows, shared by every process: the API's rate limits and the login
lockout count with them.

A key's window opens at its first hit and lasts `window` seconds; the count starts again after
it (windows aligned to the clock instead would forgive a burst that straddles a boundary, and
make a limit's tests depend on the second they run in). With Redis (production) the counts live
there, so that every web process sees the same ones, and counting several keys is one round
trip. Without it (the embedded default, the in-process test settings) they go through Django's
cache. If Redis is unreachable the counts fall back to this process's memory, so that logins
and the API keep working, still limited, through an outage instead of answering 500.
"""

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Count:
    key: str
    count: int  # in the current window, this hit included
    reset: int  # seconds until the window ends


def _name(key: str) -> str:
    return f"{settings.CACHES['default'].get('KEY_PREFIX', '') or 'obeya'}:count:{key}"


# Every key of a request at once, in one command: the window opens with a key's first hit (SET
# NX with the window as expiry), then the count and the seconds left. ARGV: each key's window,
# then the amount to add.
_HIT_SCRIPT = """
local add = ARGV[#KEYS + 1]
local out = {}
for i, key in ipairs(KEYS) do
  redis.call('SET', key, 0, 'EX', ARGV[i], 'NX')
  out[#out + 1] = redis.call('INCRBY', key, add)
  out[#out + 1] = redis.call('TTL', key)
end
return out
"""

# (backend, location) -> the raw Redis client of the default cache and the hit script on it.
# django-redis makes a new cache object, and with it a new client, for each request's context
# (Django's caches are context-local), and building a client cost more than the round trip it
# makes; the connection pool under them is one per process anyway.
_clients: dict[tuple[str, str], tuple[Any, Any]] = {}


def _redis() -> tuple[Any, Any] | None:
    """The raw Redis client behind the default cache and the hit script registered on it, or
    None when the cache is not Redis."""
    config = settings.CACHES["default"]
    backend = str(config["BACKEND"])
    if not backend.startswith("django_redis."):
        return None
    key = (backend, str(config.get("LOCATION")))
    found = _clients.get(key)
    if found is None:
        from django_redis import get_redis_connection  # type: ignore[import-untyped]  # no stubs

        client = get_redis_connection("default")
        found = _clients[key] = (client, client.register_script(_HIT_SCRIPT))
    return found


# key -> (window's end, count): the counts of Django's non-Redis caches (read and written under
# the lock), and of the fallback when Redis is down.
_local: dict[str, tuple[float, int]] = {}
_lock = threading.Lock()
_last_warning = 0.0


def _warn(exc: Exception) -> None:
    global _last_warning
    if time.monotonic() - _last_warning > 60:  # an outage is logged, not every request of it
        _last_warning = time.monotonic()
        logger.warning("Counters fall back to this process's memory: %s", exc)


def _bump(entry: tuple[float, int] | None, now: float, window: int, add: int):
    if entry is None or entry[0] <= now:
        entry = (now + window, 0)
    return entry[0], entry[1] + add


def _local_hit(names: list[str], windows: list[int], add: int) -> list[tuple[int, int]]:
    now = time.time()
    results = []
    with _lock:
        for name, window in zip(names, windows, strict=True):
            end, n = _local[name] = _bump(_local.get(name), now, window, add)
            results.append((n, max(1, round(end - now))))
        if len(_local) > 100_000:  # windows long over, of keys not seen since
            for name in [k for k, (end, _) in _local.items() if end <= now]:
                del _local[name]
    return results


def _shared_hit(names: list[str], windows: list[int], add: int) -> list[tuple[int, int]]:
    redis = _redis()
    if redis is not None:
        _, hit_script = redis
        replies = hit_script(keys=names, args=[*windows, add])
        return [(int(replies[i]), max(1, int(replies[i + 1]))) for i in range(0, len(replies), 2)]
    now = time.time()
    results = []
    with _lock:  # Django's other caches have no atomic increment with a window: one process
        for name, window in zip(names, windows, strict=True):
            end, n = _bump(cache.get(name), now, window, add)
            cache.set(name, (end, n), timeout=max(1, end - now))
            results.append((n, max(1, round(end - now))))
    return results


def hit(*keys_and_windows: tuple[str, int], add: int = 1) -> list[Count]:
    """Add `add` to each key's count in its window (of `window` seconds, from its first hit);
    return the counts. `add=0` reads them."""
    names = [_name(key) for key, _ in keys_and_windows]
    windows = [window for _, window in keys_and_windows]
    try:
        results = _shared_hit(names, windows, add)
    except Exception as exc:  # Redis down or failing: keep counting, here
        _warn(exc)
        results = _local_hit(names, windows, add)
    return [
        Count(key, n, reset) for (key, _), (n, reset) in zip(keys_and_windows, results, strict=True)
    ]


def clear(*keys_and_windows: tuple[str, int]) -> None:
    """Forget these keys' counts (a successful login forgives its failures)."""
    names = [_name(key) for key, _ in keys_and_windows]
    with _lock:
        for name in names:
            _local.pop(name, None)
    try:
        redis = _redis()
        if redis is not None:
            redis[0].delete(*names)
        else:
            cache.delete_many(names)
    except Exception as exc:
        _warn(exc)
