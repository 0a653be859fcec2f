"""One subscription per board per process: the board's viewers in this process hear its events
through one channel of the channel layer, not one channel each.

Joined one by one, fifty sockets on a board meant fifty copies of each event handed out by the
layer, fifty decodings of it and fifty passes through Channels' dispatch, all on the web
process's one core: with 50 viewers a board's moves fell to about half (bench/RESULTS.md).
Here a `BoardRelay` joins the board's group once, decodes each message once, and appends the
already-encoded text to every watching socket's `Outbox`; each outbox's own task writes to its
socket, so that a slow client delays only itself.

An outbox holds at most OUTBOX_LIMIT live events: past that the socket's reader is not keeping
up, and later events are dropped for it. The client sees the gap in `seq` on the next event it
gets (or in the next pong) and resyncs from the log, as after any missed message. What the
socket's own consumer sends once the outbox is open (pongs, replays, errors) goes through the
same outbox, never dropped, so that it keeps its place among the events.

A relay belongs to one event loop (the channel layer's connections do), so relays are kept per
loop; a relay stops, leaving the group, when its last socket goes.
"""

import asyncio
import json
import logging
import weakref
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from boards.live.events import board_group

logger = logging.getLogger(__name__)

OUTBOX_LIMIT = 1000

# The socket's ASGI send (asgiref types it as a union of every ASGI event).
Send = Callable[[Any], Awaitable[None]]


class Outbox:
    """A socket's queue of encoded messages, written in order by a task of its own. Opened
    (the task started) once the socket's hello is sent, so that nothing overtakes it."""

    def __init__(self, send: Send, *, limit: int = OUTBOX_LIMIT) -> None:
        self._send = send
        self._limit = limit
        self._items: deque[tuple[str, bool]] = deque()  # (text, a live event: droppable)
        self._live = 0  # live events among the items (the droppable ones)
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task | None = None
        self.dropped = 0

    def open(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())
        if self._items:
            self._wakeup.set()

    @property
    def is_open(self) -> bool:
        return self._task is not None

    def put_event(self, text: str) -> None:
        if self._live >= self._limit:
            self.dropped += 1
            return
        self._live += 1
        self._items.append((text, True))
        self._wakeup.set()

    def put(self, text: str) -> None:
        self._items.append((text, False))  # the consumer's own: never dropped
        self._wakeup.set()

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self._items.clear()

    async def _run(self) -> None:
        items = self._items
        try:
            while True:
                if not items:
                    self._wakeup.clear()
                    await self._wakeup.wait()
                    continue
                text, live = items.popleft()
                self._live -= live
                await self._send({"type": "websocket.send", "text": text})
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the socket went away under us; its disconnect cleans up
            logger.debug("Outbox stopped: %s", exc)


class BoardRelay:
    def __init__(self, layer, board_id: int) -> None:
        self.layer = layer
        self.board_id = board_id
        self.outboxes: dict[int, Outbox] = {}
        self.channel: str | None = None
        self.task: asyncio.Task | None = None
        self.started = asyncio.get_running_loop().create_future()

    async def start(self) -> None:
        try:
            self.channel = await self.layer.new_channel()
            await self.layer.group_add(board_group(self.board_id), self.channel)
        except BaseException as exc:
            self.started.set_exception(exc)
            self.started.exception()  # retrieved: whoever awaits it next sees it too
            raise
        self.task = asyncio.get_running_loop().create_task(self._run())
        self.started.set_result(None)

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
        if self.channel is not None:
            try:
                await self.layer.group_discard(board_group(self.board_id), self.channel)
            except Exception as exc:
                logger.info("Board %s relay: leaving the group failed: %s", self.board_id, exc)

    async def _run(self) -> None:
        assert self.channel is not None
        while True:
            message = await self.layer.receive(self.channel)
            kind = message.get("type")
            if kind == "board.event":
                text = message["text"]
            elif kind == "presence.update":
                text = json.dumps(
                    {"type": "presence", "count": message["count"], "viewers": message["viewers"]}
                )
            else:
                logger.warning("Board %s relay: unknown message %r", self.board_id, kind)
                continue
            for outbox in self.outboxes.values():
                outbox.put_event(text)


# loop -> board id -> relay
_relays: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[int, BoardRelay]]" = (
    weakref.WeakKeyDictionary()
)


def _loop_relays() -> dict[int, BoardRelay]:
    loop = asyncio.get_running_loop()
    relays = _relays.get(loop)
    if relays is None:
        relays = _relays[loop] = {}
    return relays


async def watch(layer, board_id: int, key: int, outbox: Outbox) -> None:
    """Have `outbox` hear the board's events from now on (raises when the layer is down)."""
    relays = _loop_relays()
    relay = relays.get(board_id)
    if relay is None:
        relay = relays[board_id] = BoardRelay(layer, board_id)
        relay.outboxes[key] = outbox
        try:
            await relay.start()
        except BaseException:
            if relays.get(board_id) is relay:
                del relays[board_id]
            raise
        return
    relay.outboxes[key] = outbox
    try:
        await relay.started  # another socket is starting it
    except BaseException:
        relay.outboxes.pop(key, None)
        raise


async def unwatch(board_id: int, key: int) -> None:
    relays = _loop_relays()
    relay = relays.get(board_id)
    if relay is None or relay.outboxes.pop(key, None) is None:
        return
    if not relay.outboxes:
        del relays[board_id]  # at once: a socket arriving now starts a new relay
        await relay.stop()


def watchers(board_id: int) -> int:
    """This loop's sockets on the board (tests)."""
    relay = _loop_relays().get(board_id)
    return len(relay.outboxes) if relay else 0
