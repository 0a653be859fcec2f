"""A board viewer over the websocket, as a script or the browser would write one: it keeps the
last seq it applied, applies events in order into per-cell lists, resyncs on a gap or after a
reconnect, and replaces its state on a snapshot. Tests use it to check that no viewer ever
misses a move."""

import asyncio
import contextlib
import json
import time
from typing import Any

import websockets

CARD_EVENTS_REMOVING = {"card.archived", "card.deleted"}


class BoardViewer:
    def __init__(
        self,
        base_url: str,
        board_id: int,
        *,
        token: str,
        name: str = "viewer",
        ping_interval: float | None = None,
    ) -> None:
        self.url = base_url.replace("http://", "ws://") + f"/ws/boards/{board_id}/"
        self.board_id = board_id
        self.token = token
        self.name = name
        self.ping_interval = ping_interval
        self.seq: int | None = None
        self.cells: dict[tuple[int, int], list[int]] = {}
        self.received: list[int] = []  # seqs of events as they arrived, duplicates included
        self.applied: list[int] = []  # seqs applied, in order
        self.events: list[dict[str, Any]] = []  # the events applied, in order
        self.snapshots = 0
        self.resyncs = 0
        self.connects = 0
        self.arrival: dict[int, float] = {}
        self._stop = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._connected = asyncio.Event()

    # --- state -------------------------------------------------------------------------------

    def load_snapshot(self, board: dict[str, Any]) -> None:
        self.cells = {}
        for card in sorted(board["cards"], key=lambda c: c["position"]):
            self.cells.setdefault((card["column"], card["swimlane"]), []).append(card["id"])
        self.seq = board["seq"]
        self.snapshots += 1

    def _remove(self, card_id: int) -> None:
        for ids in self.cells.values():
            if card_id in ids:
                ids.remove(card_id)
                return

    def apply(self, event: dict[str, Any]) -> None:
        kind, data = event["type"], event.get("data", {})
        card = data.get("card") if isinstance(data.get("card"), dict) else None
        if card is not None and kind.startswith("card."):
            self._remove(card["id"])
            if kind not in CARD_EVENTS_REMOVING and not card.get("archived"):
                cell = self.cells.setdefault((card["column"], card["swimlane"]), [])
                cell.insert(min(card["position"], len(cell)), card["id"])
        self.seq = event["seq"]
        self.applied.append(event["seq"])
        self.events.append(event)

    def state(self) -> dict[tuple[int, int], list[int]]:
        return {cell: ids for cell, ids in self.cells.items() if ids}

    # --- protocol ----------------------------------------------------------------------------

    async def _handle(self, ws, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "hello":
            if self.seq is None:
                # First connection, empty board: everything after 0 (the server answers with a
                # snapshot instead when the log is long).
                self.seq = 0
                await ws.send(json.dumps({"type": "resync", "since": 0}))
            elif message["seq"] != self.seq:
                self.resyncs += 1
                await ws.send(json.dumps({"type": "resync", "since": self.seq}))
            self._connected.set()
        elif kind == "snapshot":
            self.load_snapshot(message["data"])
        elif kind == "pong":
            if message["seq"] > self.seq:
                self.resyncs += 1
                await ws.send(json.dumps({"type": "resync", "since": self.seq}))
        elif kind in ("presence", "error"):
            pass
        elif "seq" in message:
            self.received.append(message["seq"])
            self.arrival.setdefault(message["seq"], time.time())
            assert self.seq is not None, "events come after the hello or snapshot's seq"
            if message["seq"] <= self.seq:
                return  # already applied
            if message["seq"] == self.seq + 1:
                self.apply(message)
            else:
                self.resyncs += 1
                await ws.send(json.dumps({"type": "resync", "since": self.seq}))

    async def _pinger(self, ws) -> None:
        assert self.ping_interval is not None, "started only with a ping interval"
        while True:
            await asyncio.sleep(self.ping_interval)
            await ws.send(json.dumps({"type": "ping"}))

    async def run(self) -> None:
        backoff = 0.1
        while not self._stop.is_set():
            try:
                async with websockets.connect(
                    self.url,
                    additional_headers={"Authorization": f"Token {self.token}"},
                    open_timeout=5,
                    max_size=None,
                ) as ws:
                    self.connects += 1
                    backoff = 0.1
                    pinger = asyncio.create_task(self._pinger(ws)) if self.ping_interval else None
                    try:
                        stop = asyncio.create_task(self._stop.wait())
                        while True:
                            recv = asyncio.create_task(ws.recv())
                            done, _ = await asyncio.wait(
                                {recv, stop}, return_when=asyncio.FIRST_COMPLETED
                            )
                            if stop in done:
                                recv.cancel()
                                return
                            await self._handle(ws, json.loads(recv.result()))
                    finally:
                        if pinger:
                            pinger.cancel()
            except (TimeoutError, OSError, websockets.ConnectionClosed, websockets.InvalidStatus):
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)

    def start(self) -> None:
        self._task = asyncio.create_task(self.run())

    async def wait_connected(self, timeout: float = 10) -> None:
        await asyncio.wait_for(self._connected.wait(), timeout)

    async def stop(self) -> None:
        self._stop.set()
        if self._task:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(self._task, 5)


async def wait_for(predicate, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"Timed out after {timeout}s waiting for {what}")
