"""The websockets: thin adapters over the selectors and the event log.

BoardConsumer (/ws/boards/<id>/) authenticates (session or token, see
accounts.authentication.TokenAuthMiddleware), checks read access through the same selector as
the REST API, joins the board's group, says hello with the current seq, forwards committed
events as they come, and replays the log on resync. OrgConsumer (/ws/orgs/<slug>/, the global
board's one socket) does the same for an organisation's members: hello with every board's seq,
then `board.changed` / `board.created` / `board.deleted` as boards.live.events publishes them.
They hold no rules and never query per broadcast.
"""

import asyncio
import json
import logging
from typing import cast

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone
from redis.exceptions import RedisError

from accounts.authentication import TokenAuth
from accounts.models import User
from accounts.selectors import get_organization_for_user
from boards.live import presence, relay
from boards.live.events import board_group, org_group
from boards.selectors import (
    board_replay,
    board_seq,
    get_board_for_user,
    organization_board_seqs,
)
from kanban.exceptions import NotFound
from kanban.publisher import token_group, user_group

logger = logging.getLogger(__name__)

# Close codes in the application range (4000-4999), mirroring HTTP.
CLOSE_UNAUTHENTICATED = 4401
CLOSE_NOT_FOUND = 4404
CLOSE_TRY_AGAIN_LATER = 1013  # RFC 6455's "Try Again Later": the client reconnects with backoff
LIVE_UNAVAILABLE = {
    "type": "error",
    "code": "live_unavailable",
    "detail": "Live updates are unavailable right now; reconnecting shortly.",
}


class LiveConsumer(AsyncJsonWebsocketConsumer):
    """What the board's and the organisation's sockets share: the answer when the channel
    layer is down, the dispatch without a database hop, joining the groups that close a
    socket (its user's, its token's) and closing at the token's expiry or on access.revoked."""

    connecting = False
    organization_id: int | None = None
    groups_joined: list[str]

    async def __call__(self, scope, receive, send) -> None:
        """With the channel layer (Redis) down, Channels fails before `connect` (it asks the
        layer for this socket's channel first) and the server answers the handshake with a
        500: accept instead, say that live updates are unavailable, and close "try again
        later", so that the page shows it and reconnects with backoff."""
        try:
            await super().__call__(scope, receive, send)
        except (OSError, RedisError) as exc:
            if self.connecting:
                raise
            logger.warning("Live updates unavailable: %s", exc)
            if (await receive())["type"] != "websocket.connect":
                return
            await send({"type": "websocket.accept"})
            await send({"type": "websocket.send", "text": json.dumps(LIVE_UNAVAILABLE)})
            await send({"type": "websocket.close", "code": CLOSE_TRY_AGAIN_LATER})

    async def dispatch(self, message) -> None:
        """Channels' dispatch closes stale database connections before every message, by a hop
        into the process's one sync thread: for a broadcast, once per viewer (it was the
        largest cost of fanning a move out to 50 viewers). Every database access here goes
        through database_sync_to_async, which closes them around each call itself."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def authenticated_user(self) -> User | None:
        """The socket's user (AuthMiddlewareStack's lazy object, which stands for our User),
        or None after closing it as unauthenticated."""
        user = cast("User | AnonymousUser | None", self.scope.get("user"))
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return None
        return user

    async def join(self, user, groups: list[str]) -> bool:
        """Join `groups` plus the user's and the token's (and the board's relay, see
        `subscribe`), and accept; False (after telling the client and closing "try again
        later") when the channel layer is down."""
        self.groups_joined = [*groups, user_group(user.pk)]
        # TokenAuthMiddleware's, for a socket opened with a token.
        token: TokenAuth | None = self.scope.get("token")  # type: ignore[assignment]
        if token is not None:
            self.groups_joined.append(token_group(token.id))
        try:
            for group in self.groups_joined:
                await self.channel_layer.group_add(group, self.channel_name)
            await self.subscribe()
        except Exception as exc:  # the channel layer (Redis) is down: say so, not a 500
            logger.warning("%s: live updates unavailable: %s", groups or self.scope["path"], exc)
            await self.unsubscribe()
            self.groups_joined = []
            await self.accept()
            await self.send_json(LIVE_UNAVAILABLE)
            await self.close(code=CLOSE_TRY_AGAIN_LATER)
            return False
        await self.accept()
        if token is not None and token.expires_at is not None:
            # The token stops opening sockets at its expiry; this one closes then too.
            delay = (token.expires_at - timezone.now()).total_seconds()
            self.expiry = asyncio.get_running_loop().call_later(
                max(delay, 0), lambda: asyncio.ensure_future(self.close(CLOSE_UNAUTHENTICATED))
            )
        return True

    async def subscribe(self) -> None:
        """What the socket hears besides its groups (the board's socket: its relay)."""

    async def unsubscribe(self) -> None:
        pass

    async def leave(self) -> None:
        if getattr(self, "expiry", None) is not None:
            self.expiry.cancel()
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    @classmethod
    async def decode_json(cls, text_data):
        # Not JSON: answered like an unknown message rather than closing the socket.
        try:
            return await super().decode_json(text_data)
        except ValueError:
            return None

    async def send_invalid(self, detail: str) -> None:
        await self.send_json({"type": "error", "code": "invalid", "detail": detail})

    # --- messages from the channel layer -------------------------------------------------

    async def board_event(self, message) -> None:
        # Encoded once by the publisher, forwarded as is to every viewer.
        await self.send(text_data=message["text"])

    async def session_closed(self, message) -> None:
        await self.close(code=CLOSE_UNAUTHENTICATED)

    async def access_revoked(self, message) -> None:
        """The user, their membership of an organisation, or this socket's token lost access
        (kanban.publisher.close_sockets): close if it concerns this socket's organisation."""
        organization = message.get("organization")
        if organization is None or organization == self.organization_id:
            await self.close(code=CLOSE_UNAUTHENTICATED)


class BoardConsumer(LiveConsumer):
    """The board's events come through the process's one relay for the board
    (boards.live.relay), into this socket's outbox, not through a channel-layer group of its
    own; the socket's channel still hears its user's and its token's groups (closing)."""

    board_id: int | None = None
    outbox: relay.Outbox | None = None

    async def connect(self) -> None:
        self.connecting = True
        user = await self.authenticated_user()
        if user is None:
            return
        board_id = int(self.scope["url_route"]["kwargs"]["board_id"])
        try:
            board = await database_sync_to_async(get_board_for_user)(user, board_id)
        except NotFound:
            # Another organisation's board, or none: indistinguishable, as 404 would be.
            await self.close(code=CLOSE_NOT_FOUND)
            return
        self.board_id, self.organization_id = board_id, board.organization_id
        self.username = user.username
        if not await self.join(user, []):
            return
        # Read after joining the relay: an event committed in between arrives twice (the
        # client ignores seqs it has) rather than never. The outbox holds the events until
        # the hello is out.
        seq = await database_sync_to_async(board_seq)(board_id)
        await self.send_json({"type": "hello", "board": board_id, "seq": seq})
        assert self.outbox is not None
        self.outbox.open()
        await self._presence_changed(join=True)

    async def subscribe(self) -> None:
        self.outbox = relay.Outbox(self.base_send)
        await relay.watch(self.channel_layer, self.connected_board, id(self), self.outbox)

    async def send(self, text_data=None, bytes_data=None, close=False) -> None:
        """Once the hello is out, everything this socket says goes through its outbox, in
        order with the board's events (a replay after the events queued before it, as when
        one task handled both)."""
        outbox = self.outbox
        if outbox is not None and outbox.is_open and text_data is not None and not close:
            outbox.put(text_data)
            return
        await super().send(text_data=text_data, bytes_data=bytes_data, close=close)

    @property
    def connected_board(self) -> int:
        """The board of a socket that `connect` accepted: the only ones that get messages."""
        assert self.board_id is not None
        return self.board_id

    async def disconnect(self, code: int) -> None:
        if self.board_id is None:
            return
        await self.leave()
        await self._presence_changed(join=False)

    async def unsubscribe(self) -> None:
        if self.outbox is not None:
            self.outbox.close()
            self.outbox = None
            await relay.unwatch(self.connected_board, id(self))

    async def leave(self) -> None:
        await self.unsubscribe()
        await super().leave()

    async def receive_json(self, content, **kwargs) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "resync":
            since = content.get("since")
            if not isinstance(since, int) or isinstance(since, bool) or since < 0:
                await self.send_invalid("resync needs an integer since >= 0.")
                return
            for message in await database_sync_to_async(board_replay)(self.connected_board, since):
                await self.send_json(message)
        elif kind == "ping":
            seq = await database_sync_to_async(board_seq)(self.connected_board)
            await self.send_json({"type": "pong", "seq": seq})
            await self._touch()
        else:
            await self.send_invalid("Unknown message type: send resync or ping.")

    # --- presence --------------------------------------------------------------------------

    async def _touch(self) -> None:
        try:
            await presence.touch(self.connected_board, self.channel_name, self.username)
        except Exception as exc:  # presence is a nicety: never let it break the board
            logger.info("Presence update failed: %s", exc)

    async def _presence_changed(self, *, join: bool) -> None:
        try:
            if join:
                await presence.touch(self.connected_board, self.channel_name, self.username)
            else:
                await presence.leave(self.connected_board, self.channel_name, self.username)
        except Exception as exc:  # presence is a nicety: never let it break the board
            logger.info("Presence update failed: %s", exc)
            return
        _schedule_presence_broadcast(self.channel_layer, self.connected_board)


class OrgConsumer(LiveConsumer):
    """The organisation's socket: what changed on which of its boards, not the events
    themselves. hello and pong carry every board's seq (`boards`: id -> seq), so a client
    compares them with what it shows and fetches again only when behind."""

    slug: str | None = None

    async def connect(self) -> None:
        self.connecting = True
        user = await self.authenticated_user()
        if user is None:
            return
        slug = self.scope["url_route"]["kwargs"]["slug"]
        try:
            organization, _ = await database_sync_to_async(get_organization_for_user)(user, slug)
        except NotFound:
            # Another organisation, or none: indistinguishable, as 404 would be.
            await self.close(code=CLOSE_NOT_FOUND)
            return
        self.slug, self.organization_id = organization.slug, organization.pk
        if not await self.join(user, [org_group(organization.pk)]):
            return
        # Read after joining the group, as the board's hello does.
        await self.send_json({"type": "hello", "org": self.slug, "boards": await self._seqs()})

    async def disconnect(self, code: int) -> None:
        if self.slug is not None:
            await self.leave()

    async def receive_json(self, content, **kwargs) -> None:
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong", "boards": await self._seqs()})
        else:
            await self.send_invalid("Unknown message type: send ping.")

    async def _seqs(self) -> dict[str, int]:
        assert self.organization_id is not None  # set by connect before any message
        seqs = await database_sync_to_async(organization_board_seqs)(self.organization_id)
        return {str(board_id): seq for board_id, seq in seqs.items()}


# One presence broadcast per board per process per PRESENCE_DEBOUNCE: when a thousand viewers
# connect at once, they get a handful of updates, not a million messages.
PRESENCE_DEBOUNCE = 1.0
_presence_pending: set[int] = set()
_presence_tasks: set[asyncio.Task] = set()


def _schedule_presence_broadcast(layer, board_id: int) -> None:
    if board_id in _presence_pending:
        return
    _presence_pending.add(board_id)

    async def broadcast() -> None:
        await asyncio.sleep(PRESENCE_DEBOUNCE)
        _presence_pending.discard(board_id)
        try:
            names = await presence.viewers(board_id)
            await layer.group_send(
                board_group(board_id),
                {"type": "presence.update", "count": len(names), "viewers": names[:20]},
            )
        except Exception as exc:
            logger.info("Presence broadcast failed: %s", exc)

    task = asyncio.get_running_loop().create_task(broadcast())
    _presence_tasks.add(task)  # a reference, so that the task is not garbage-collected
    task.add_done_callback(_presence_tasks.discard)
