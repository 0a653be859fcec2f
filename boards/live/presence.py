"""Who is looking at a board right now, shared by every server process.

With Redis: a sorted set per board (member: the consumer's channel name and user, score: last
seen), so that a process that dies without saying goodbye ages out within PRESENCE_TTL.
Without Redis (the embedded default, one process): a dict in memory.
"""

import asyncio
import time
import weakref
from typing import Any

from django.conf import settings

PRESENCE_TTL = 90  # seconds; clients ping every 25 s

_local: dict[int, dict[str, tuple[float, str]]] = {}
# redis.asyncio clients belong to the event loop that made them: one per loop.
_clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any]" = weakref.WeakKeyDictionary()


def _client():
    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None:
        import redis.asyncio as aioredis

        client = aioredis.Redis.from_url(
            settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2
        )
        _clients[loop] = client
    return client


def _key(board_id: int) -> str:
    return f"obeya:presence:{board_id}"


async def touch(board_id: int, channel_name: str, username: str) -> None:
    now = time.time()
    member = f"{channel_name}|{username}"
    if not settings.REDIS_URL:
        _local.setdefault(board_id, {})[member] = (now, username)
        return
    client = _client()
    async with client.pipeline(transaction=False) as pipe:
        pipe.zadd(_key(board_id), {member: now})
        pipe.expire(_key(board_id), PRESENCE_TTL * 2)
        await pipe.execute()


async def leave(board_id: int, channel_name: str, username: str) -> None:
    member = f"{channel_name}|{username}"
    if not settings.REDIS_URL:
        _local.get(board_id, {}).pop(member, None)
        return
    await _client().zrem(_key(board_id), member)


async def viewers(board_id: int) -> list[str]:
    """Usernames currently viewing (a user with two tabs counts once)."""
    cutoff = time.time() - PRESENCE_TTL
    if not settings.REDIS_URL:
        entries = _local.get(board_id, {})
        return sorted({name for seen, name in entries.values() if seen >= cutoff})
    client = _client()
    await client.zremrangebyscore(_key(board_id), 0, cutoff)
    members = await client.zrange(_key(board_id), 0, -1)
    return sorted({m.decode().rsplit("|", 1)[1] for m in members})
