"""Counters in fixed time windows, shared by every process: the API's rate limits and the login
lockout count with them.

With Redis (production) the counts live there, so that every web process sees the same ones,
and counting several keys is one round trip (INCR and EXPIRE in a pipeline). Without it (the
embedded default, the in-process test settings) they go through Django's cache. If Redis is
unreachable the counts fall back to this process's memory, so that logins and the API keep
working, still limited, through an outage instead of answering 500.
"""

import logging
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Count:
    key: str
    count: int  # in the current window, this hit included
    reset: int  # seconds until the window ends


def _window(window: int, now: float) -> tuple[int, int]:
    start = int(now // window) * window
    return start, max(1, start + window - int(now))


def _prefix() -> str:
    return f"{settings.CACHES['default'].get('KEY_PREFIX', '') or 'obeya'}:count:"


def _redis():
    """The raw Redis client behind the default cache, or None when the cache is not Redis."""
    if not settings.CACHES["default"]["BACKEND"].startswith("django_redis."):
        return None
    from django_redis import get_redis_connection

    return get_redis_connection("default")


_local: dict[str, tuple[int, int]] = {}  # key -> (window start, count), when Redis is down
_local_lock = threading.Lock()
_last_warning = 0.0


def _warn(exc: Exception) -> None:
    global _last_warning
    if time.monotonic() - _last_warning > 60:  # an outage is logged, not every request of it
        _last_warning = time.monotonic()
        logger.warning("Counters fall back to this process's memory: %s", exc)


def _local_hit(keys: list[tuple[str, int, int]], now: float, add: int) -> list[int]:
    counts = []
    with _local_lock:
        for key, start, _ in keys:
            seen_start, n = _local.get(key, (start, 0))
            n = (n if seen_start == start else 0) + add
            _local[key] = (start, n)
            counts.append(n)
        if len(_local) > 100_000:  # old windows of keys not seen since
            for key in [k for k, (s, _) in _local.items() if s + 3600 < now]:
                del _local[key]
    return counts


def hit(*keys_and_windows: tuple[str, int], add: int = 1) -> list[Count]:
    """Add `add` to each key's count in its current window (of `window` seconds); return the
    counts. `add=0` reads them."""
    now = time.time()
    keys = []
    for key, window in keys_and_windows:
        start, reset = _window(window, now)
        keys.append((f"{_prefix()}{key}:{start}", start, reset))
    try:
        counts = _shared_hit(keys, keys_and_windows, add)
    except Exception as exc:  # Redis down or failing: keep counting, here
        _warn(exc)
        counts = _local_hit(keys, now, add)
    return [
        Count(key, n, reset)
        for (key, _), (_, _, reset), n in zip(keys_and_windows, keys, counts, strict=True)
    ]


def _shared_hit(keys, keys_and_windows, add: int) -> list[int]:
    client = _redis()
    if client is not None:
        pipe = client.pipeline(transaction=False)
        for (key, _, _), (_, window) in zip(keys, keys_and_windows, strict=True):
            pipe.incrby(key, add)
            pipe.expire(key, window + 1, nx=True)
        return [int(n) for n in pipe.execute()[::2]]
    counts = []
    for (key, _, _), (_, window) in zip(keys, keys_and_windows, strict=True):
        cache.add(key, 0, timeout=window + 1)
        counts.append(cache.incr(key, add) if add else cache.get(key, 0))
    return counts


def clear(*keys_and_windows: tuple[str, int]) -> None:
    """Forget the current windows' counts of these keys (after a successful login)."""
    now = time.time()
    names = [f"{_prefix()}{key}:{_window(window, now)[0]}" for key, window in keys_and_windows]
    with _local_lock:
        for name in names:
            _local.pop(name, None)
    try:
        client = _redis()
        if client is not None:
            client.delete(*names)
        else:
            cache.delete_many(names)
    except Exception as exc:
        _warn(exc)
