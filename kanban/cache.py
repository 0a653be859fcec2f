"""Django's Redis cache with one client (and so one connection pool) per process.

Django keeps its cache objects per context (`asgiref.local.Local`), and the servers here give
every request a context of its own, so the stock `RedisCache` built a new client, a new pool and
a new TCP connection to Redis for every request (django/django#18459, open at the time of
writing), and its client builds a new `redis.Redis` per call besides. Both showed in a card
move's profile (4 % and 3 % of its CPU). Here the clients and the `redis.Redis` objects are
shared by every cache object of the same configuration; redis-py makes both thread-safe.
"""

import threading

from django.core.cache.backends.redis import RedisCache, RedisCacheClient

_clients: dict[tuple, RedisCacheClient] = {}
_lock = threading.Lock()


class _ReusingClient(RedisCacheClient):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._redis: dict[object, object] = {}  # pool -> the redis.Redis over it

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._redis.get(pool)
        if client is None:
            client = self._redis.setdefault(pool, self._client(connection_pool=pool))
        return client


class SharedPoolRedisCache(RedisCache):
    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        self._class = _ReusingClient

    @property
    def _cache(self) -> RedisCacheClient:
        key = (tuple(self._servers), repr(sorted(self._options.items())))
        client = _clients.get(key)
        if client is None:
            with _lock:
                client = _clients.setdefault(key, self._class(self._servers, **self._options))
        return client
