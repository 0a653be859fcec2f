"""Hands committed events to the channel layer without slowing the request that made them.

`async_to_sync(group_send)` per request builds an event loop and a connection each time: measured
at ~2.4 ms, it halved the move endpoint's throughput (PITFALLS.md). With a shared layer (Redis)
events are instead queued to one long-lived event loop in a daemon thread, which sends them one
at a time, in the order they were committed in this process. A failed send never reaches the
writer: it is logged, and the board's latest event is offered again until the layer takes it,
so that viewers who missed events during an outage see a gap in `seq` and resync.

With Channels' in-memory layer (the embedded default) the layer lives on the server's own loop,
so the send is handed to that loop (given by the ASGI app at startup: use_server_loop);
outside a server (a shell, the
demo loader) no consumer can be listening in this process, and `async_to_sync` suffices.
"""

import asyncio
import functools
import json
import logging
import threading
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)

QUEUE_LIMIT = 10_000
RETRY_SECONDS = 1.0


def _new_loop() -> asyncio.AbstractEventLoop:
    """uvloop's where it is installed (uvicorn[standard] brings it, and runs the server's loop
    on it): its sends to Redis cost less of the web process's time than asyncio's."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


class LoopPublisher:
    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue | None = None
        self._started = threading.Event()
        self._lock = threading.Lock()
        # Latest undelivered message per group: re-offered until the layer is back.
        self._pending: dict[str, dict[str, Any]] = {}

    def _ensure_started(self) -> None:
        if self._loop is not None:
            return
        with self._lock:
            if self._loop is not None:
                return
            thread = threading.Thread(target=self._run, name="obeya-publisher", daemon=True)
            thread.start()
            self._started.wait(5)

    def _run(self) -> None:
        loop = _new_loop()
        asyncio.set_event_loop(loop)
        self._queue = asyncio.Queue(maxsize=QUEUE_LIMIT)
        self._loop = loop
        self._started.set()
        # Held so that the tasks are not garbage-collected while the loop runs.
        self._tasks = [loop.create_task(self._drain()), loop.create_task(self._retry_pending())]
        loop.run_forever()

    def submit(self, group: str, message: dict[str, Any]) -> None:
        self._ensure_started()
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._enqueue, group, message)

    def _enqueue(self, group: str, message: dict[str, Any]) -> None:
        assert self._queue is not None
        try:
            self._queue.put_nowait((group, message))
        except asyncio.QueueFull:
            # Viewers recover from the log by resync; memory must not grow without bound.
            logger.warning("Publisher queue full: dropping an event for %s", group)
            self._pending[group] = message

    async def _send(self, group: str, message: dict[str, Any]) -> bool:
        try:
            layer = get_channel_layer()
            assert layer is not None, "send_message queues only while a layer is configured"
            await layer.group_send(group, message)
        except Exception as exc:
            logger.warning("Channel layer send to %s failed (%s); viewers will resync", group, exc)
            self._pending[group] = message
            return False
        return True

    async def _drain(self) -> None:
        assert self._queue is not None
        while True:
            group, message = await self._queue.get()
            if await self._send(group, message):
                # A later event reached the viewers: any older undelivered one is moot (they
                # see the gap and resync).
                self._pending.pop(group, None)

    async def _retry_pending(self) -> None:
        while True:
            await asyncio.sleep(RETRY_SECONDS)
            for group, message in list(self._pending.items()):
                if self._pending.get(group) is not message:
                    continue
                if await self._send(group, message):
                    if self._pending.get(group) is message:
                        del self._pending[group]
                else:
                    break  # the layer is still down; try again later

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until everything submitted so far has been handed to the layer (tests)."""
        if self._loop is None:
            return

        async def wait_empty() -> None:
            assert self._queue is not None
            while not self._queue.empty():
                await asyncio.sleep(0.005)
            await asyncio.sleep(0)

        asyncio.run_coroutine_threadsafe(wait_empty(), self._loop).result(timeout)


_publisher = LoopPublisher()
# The ASGI server's event loop in this process, where Channels' in-memory layer lives.
_server_loop: asyncio.AbstractEventLoop | None = None


def use_server_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Called by the ASGI application when the server starts (kanban.asgi)."""
    global _server_loop
    _server_loop = loop


def encode(payload: dict[str, Any]) -> str:
    return json.dumps(payload, separators=(",", ":"))


def send_to_group(group: str, payload: dict[str, Any]) -> None:
    """Send the event `payload` to every consumer of `group`, JSON-encoded once here rather
    than once per viewer. Never raises."""
    send_message(group, {"type": "board.event", "text": encode(payload)})


def send_message(group: str, message: dict[str, Any]) -> None:
    """Send a channel-layer message (its "type" names the consumer's handler). Never raises."""
    try:
        layer = get_channel_layer()
        if layer is None:
            return
        if isinstance(layer, InMemoryChannelLayer):
            loop = _server_loop
            if loop is not None and loop.is_running():
                asyncio.run_coroutine_threadsafe(layer.group_send(group, message), loop)
            else:
                async_to_sync(layer.group_send)(group, message)
        else:
            _publisher.submit(group, message)
    except Exception:
        logger.exception("Could not publish to %s", group)


def flush() -> None:
    _publisher.flush()


# --- the groups of a person's sockets (for accounts, which must not import boards) -----------


def user_group(user_id: int) -> str:
    """Every websocket of one user: closed together when they log out."""
    return f"user.{user_id}"


def token_group(token_id: int) -> str:
    """Every websocket opened with one API token: closed when it is revoked."""
    return f"token.{token_id}"


def close_sockets(
    *, user_id: int | None = None, token_id: int | None = None, organization_id: int | None = None
) -> None:
    """Once the current transaction commits, close the websockets that lost their access: those
    of a user (all of them, or only on boards of `organization_id`), or those opened with a
    token. Access is checked when a socket opens; this is what stops one that is already open
    (a revoked token, a deactivated user, a removed membership)."""
    message = {"type": "access.revoked", "organization": organization_id}
    groups = []
    if user_id is not None:
        groups.append(user_group(user_id))
    if token_id is not None:
        groups.append(token_group(token_id))
    for group in groups:
        transaction.on_commit(functools.partial(send_message, group, message))
