"""Django's Redis cache with one connection pool per process.

Django keeps its cache objects per context (`asgiref.local.Local`), and the servers here give
every request a context of its own, so the stock `RedisCache` built a new client, a new pool and
a new TCP connection to Redis for every request (django/django#18459, open at the time of
writing): 4 % of a card move's CPU went into connecting. The client (and through it the pool,
which redis-py makes thread-safe) is shared by every cache object of the same configuration.
"""

import threading

from django.core.cache.backends.redis import RedisCache, RedisCacheClient

_clients: dict[tuple, RedisCacheClient] = {}
_lock = threading.Lock()


class SharedPoolRedisCache(RedisCache):
    @property
    def _cache(self) -> RedisCacheClient:
        key = (tuple(self._servers), repr(sorted(self._options.items())))
        client = _clients.get(key)
        if client is None:
            with _lock:
                client = _clients.setdefault(key, self._class(self._servers, **self._options))
        return client
