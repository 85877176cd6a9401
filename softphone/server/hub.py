"""The push channel's fan-out: every change of a call goes to every connected terminal of both parties.

The call service publishes synchronously, right after each commit, so frames enter every outbox in
commit order, which is version order per call. A frame is encoded once per change and the same text
is queued for every subscriber, with that subscriber's fate under the faults in force. Each
connection drains its own outbox, so a slow terminal never delays another; an outbox is bounded, and
a subscriber that falls that far behind is ended rather than buffered without end. Connections are
capped per user and per server.

A frame for a connection whose writer is idle, with nothing queued and no fault to carry out, is
written at once by the publisher instead (``Subscription.write_directly``): waking 500 writers, one
task step each, was about a third of the time until the last of 500 subscribers had a change. What
the publisher then does per subscriber is kept small: with no push fault in force, every subscriber
gets the same ``Delivery``, nothing drawn; and the frame's bytes on the wire are the same for every
connection, so a ``PushFrame`` serializes them once (``PushFrame.wire``) for the connections that can
take them as they are (see ``softphone.server.push``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from websockets.frames import Frame as WebSocketFrame
from websockets.frames import Opcode

from softphone.api import (
    CallState,
    CallUpdatedFrame,
    ErrorFrame,
    ErrorFrameData,
    InvalidParams,
    PongFrame,
    TooManyConnections,
    Unauthorized,
)
from softphone.server.config import ServerConfig
from softphone.server.faults import DELIVER, Faults, PushFate


class PushFrame:
    """A frame for the push channel: its JSON text, and the WebSocket frame that carries it.

    A server's frames are not masked and this server declines compression, so that WebSocket frame is
    the same bytes on every connection: serialized the first time they are asked for, then shared.
    """

    __slots__ = ("text", "_wire")

    def __init__(self, text: str) -> None:
        self.text = text
        self._wire: bytes | None = None

    def wire(self) -> bytes:
        """The whole WebSocket text frame, header and payload, as an unmasked, uncompressed server sends it."""
        if self._wire is None:
            self._wire = WebSocketFrame(Opcode.TEXT, self.text.encode()).serialize(mask=False)
        return self._wire

CLOSE_UNAUTHORIZED = 4000 + Unauthorized.HTTP_STATUS
CLOSE_TOO_SLOW = 1008
"""Policy violation: the subscriber did not read its frames."""


@dataclass(frozen=True)
class Ending:
    """Why a connection is being closed: its WebSocket close code and reason."""

    code: int
    reason: str


@dataclass(frozen=True)
class Delivery:
    """A frame for one subscriber; ``fate`` is ``None`` for answers (hello, pong, error), never faulted."""

    frame: PushFrame
    fate: PushFate | None = None


@dataclass(frozen=True)
class Unfinished:
    """A frame written directly whose send stopped part-way (the connection could take no more yet):
    the writer finishes it before anything else. ``waiting_on`` is what the send was waiting for."""

    sending: Any
    waiting_on: Any


SendNow = Callable[[PushFrame], "Unfinished | None"]
"""Write a frame from the caller's own step: ``None`` once it is written (or the connection is gone)."""


class Subscription:
    """One WebSocket connection's bounded outbox, and whether it has been told to end.

    There is one per open push connection, thousands on a busy simulator, so it is kept small: a list
    for the outbox (a deque and an ``asyncio.Event`` cost about 1.5 KiB per connection before the
    first frame), and a future only while the connection's writer waits.
    """

    __slots__ = ("user_id", "token_hash", "ending", "_capacity", "_outbox", "_waiter", "_idle", "_send_now")

    def __init__(self, user_id: int, token_hash: str, capacity: int) -> None:
        self.user_id = user_id
        self.token_hash = token_hash
        self.ending: Ending | None = None
        self._capacity = capacity
        self._outbox: list[Delivery | Unfinished] = []
        self._waiter: asyncio.Future[None] | None = None
        self._idle = False
        """The writer waits for its next frame with nothing in hand (no held push, no delay under way)."""
        self._send_now: SendNow | None = None

    def write_directly(self, send_now: SendNow) -> None:
        """From now on, a frame that would only wake an idle writer is written by ``send_now`` at once."""
        self._send_now = send_now

    def put(self, delivery: Delivery) -> None:
        if self.ending is not None:
            return
        item: Delivery | Unfinished = delivery
        if self._idle and not self._outbox and self._send_now is not None and delivery.fate in (None, DELIVER):
            unfinished = self._send_now(delivery.frame)
            if unfinished is None:
                return
            item = unfinished  # queued first, as the outbox is empty: nothing overtakes it
        if len(self._outbox) >= self._capacity:
            self.end(Ending(CLOSE_TOO_SLOW, f"more than {self._capacity} frames unread"))
            return
        self._outbox.append(item)
        self._wake()

    def end(self, ending: Ending) -> None:
        """Ask the connection to close; nothing more is queued, and what is queued is not sent."""
        if self.ending is None:
            self.ending = ending
            self._outbox.clear()
            self._wake()

    async def next(self, timeout: float | None = None) -> Delivery | Unfinished | Ending | None:
        """The next delivery, the ending if there is one (it comes first), or ``None`` after ``timeout``."""
        if self.ending is None and not self._outbox and not await self._sleep(timeout, until_ending=False):
            return None
        return self.ending or self._outbox.pop(0)

    async def wait_ending(self, timeout: float) -> bool:
        """Sleep for ``timeout`` unless the connection is told to end first; whether it was."""
        return self.ending is not None or await self._sleep(timeout, until_ending=True)

    async def _sleep(self, timeout: float | None, *, until_ending: bool) -> bool:
        """Wait up to ``timeout`` for an ending or (unless ``until_ending``) a delivery; whether one came."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            if self.ending is not None or (self._outbox and not until_ending):
                return True
            left = None if deadline is None else deadline - loop.time()
            if left is not None and left <= 0:
                return False
            self._waiter = loop.create_future()
            try:
                if left is None:  # the writer's usual wait, once per frame: no timeout to set up
                    self._idle = not until_ending
                    await self._waiter
                else:
                    async with asyncio.timeout(left):
                        await self._waiter
            except TimeoutError:
                return False
            finally:
                self._waiter = None
                self._idle = False

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


class Hub:
    """The subscriptions of one server, with its caps and outbox size, and the faults in force."""

    def __init__(self, config: ServerConfig, faults: Faults | None = None) -> None:
        self._faults = faults or Faults(config.faults)
        self._per_user = config.max_push_per_user
        self._per_server = config.max_push_per_server
        self._outbox_frames = config.push_outbox_frames
        # Dicts, not sets: faults are drawn per subscriber in the order they connected, so a seed replays.
        self._subscriptions: dict[int, dict[Subscription, None]] = {}
        self._count = 0

    def subscribe(self, user_id: int, token_hash: str) -> Subscription:
        """A new outbox; ``TooManyConnections`` over either cap."""
        mine = self._subscriptions.setdefault(user_id, {})
        if len(mine) >= self._per_user or self._count >= self._per_server:
            raise TooManyConnections()
        subscription = Subscription(user_id, token_hash, self._outbox_frames)
        mine[subscription] = None
        self._count += 1
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        mine = self._subscriptions.get(subscription.user_id, {})
        if subscription in mine:
            del mine[subscription]
            self._count -= 1
        if not mine:
            self._subscriptions.pop(subscription.user_id, None)

    def listening(self, *user_ids: int) -> bool:
        """Whether any of these users has a connection open: a change nobody hears needs no frame."""
        return any(self._subscriptions.get(user_id) for user_id in user_ids)

    def publish(self, event_id: int, state: CallState) -> None:
        """Queue the change for every connection of both parties, encoded once."""
        frame = PushFrame(CallUpdatedFrame(event_id=event_id, data=state).model_dump_json())
        faults = self._faults
        # No push fault in force: every subscriber's fate is to get it, so one Delivery serves them all.
        shared = None if faults.pushes_faulted else Delivery(frame, DELIVER)
        for user_id in (state.caller_user_id, state.callee_user_id):
            for subscription in self._subscriptions.get(user_id, {}):
                subscription.put(shared if shared is not None else Delivery(frame, faults.push()))

    def revoke(self, token_hash: str) -> None:
        """Close every connection opened with this token: it was revoked."""
        for mine in self._subscriptions.values():
            for subscription in mine:
                if subscription.token_hash == token_hash:
                    subscription.end(Ending(CLOSE_UNAUTHORIZED, str(Unauthorized.CODE)))


def answer_client_frame(text: str | None) -> PushFrame:
    """A client may only ping; anything else is answered with an error frame and the connection stays open."""
    try:
        payload = json.loads(text) if text is not None else None
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser goes
        payload = None
    if not isinstance(payload, dict) or not isinstance(payload.get("type"), str):
        reason = "frame: expected a JSON text frame with a string type"
    elif payload["type"] == "ping":
        return PushFrame(PongFrame().model_dump_json())
    else:
        reason = f"type: unsupported frame type {payload['type']!r}"
    error = InvalidParams.because(reason)
    return PushFrame(ErrorFrame(data=ErrorFrameData(code=error.code, message=error.message)).model_dump_json())
